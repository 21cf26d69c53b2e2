"""ASGI middleware: a request id for every request, one access-log line, and no exception that reaches the server.

Written as plain ASGI rather than Starlette's BaseHTTPMiddleware, which costs a task and a stream per request.
A caller's `X-Request-Id` is kept when it is a plausible id, so one id can follow a request across services.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import error_response
from .json_logging import request_id_var

REQUEST_ID_HEADER = b"x-request-id"
REQUEST_ID_PATTERN = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")
# Probes arrive every few seconds from each load-balancer node; they would drown the access log.
QUIET_PREFIX = "/health/"
# nginx's convention for "the client closed the connection before the answer": no response was sent.
CLIENT_CLOSED = 499

logger = logging.getLogger("gateway.access")


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER and REQUEST_ID_PATTERN.match(value):
            return value.decode("ascii")
    return uuid.uuid4().hex


def log_fields(scope: Scope) -> dict[str, Any]:
    """Facts a route adds to its access-log line (never payload values)."""
    return scope.setdefault("state", {}).setdefault("log_fields", {})


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message["headers"] = [*message.get("headers", []), (REQUEST_ID_HEADER, request_id.encode("ascii"))]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except ClientDisconnect:
            status = CLIENT_CLOSED  # the caller went away mid-request: nothing to answer, nothing broken
            log_fields(scope)["disconnected"] = True
        except Exception:
            logger.exception("unhandled error")
            if response_started:
                raise
            await error_response(500, "internal_error", "the gateway failed; the error is logged", request_id)(
                scope, receive, send_with_id
            )
        finally:
            path = scope["path"]
            level = logging.DEBUG if path.startswith(QUIET_PREFIX) else logging.INFO
            if logger.isEnabledFor(level):
                fields = {"method": scope["method"], "path": path, "status": status, **log_fields(scope)}
                fields["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
                logger.log(level, "request", extra={"fields": fields})
