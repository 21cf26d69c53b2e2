"""uvicorn's httptools protocol with the limits uvicorn leaves out: how long a request's headers and its body may take
to arrive, and how large and how many its header fields may be.

uvicorn times out idle keep-alive connections, but not a connection that sends its headers or its body slowly: a new
connection has no timer at all, and any byte cancels the keep-alive one. A few hundred such connections hold a
worker's file descriptors for as long as the client likes (slowloris). Here a request's headers must be complete
within `header_read_timeout` of its connection or its first byte, and its body within `body_read_timeout` of its
headers, or the connection is answered 408 (when no answer has started) and closed.

uvicorn's only header limit, `h11_max_incomplete_event_size`, belongs to its h11 parser; with httptools, which the
gateway runs, uvicorn has none, so a 1 MiB header or 10,000 headers were served. Here the bytes received while a
request's headers are incomplete are counted as they arrive (as h11 counts them), as are the fields httptools
reports; past either limit the connection is answered 431 and closed, before the app sees the request.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

logger = logging.getLogger("gateway.access")
# How long a refused connection's incoming bytes are read and dropped after its answer, before it is closed.
LINGER_SECONDS = 2.0


@dataclass(frozen=True)
class RequestLimits:
    header_read_timeout: float
    body_read_timeout: float
    max_header_bytes: int
    max_header_count: int


def _refusal(status: HTTPStatus, code: str, message: str) -> bytes:
    """A complete response that closes the connection, in the gateway's error shape."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    head = (
        f"HTTP/1.1 {status.value} {status.phrase}\r\ncontent-type: application/json\r\nconnection: close\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


HEADER_TIMEOUT = _refusal(HTTPStatus.REQUEST_TIMEOUT, "header_timeout", "the request headers took too long")
BODY_TIMEOUT = _refusal(HTTPStatus.REQUEST_TIMEOUT, "body_timeout", "the request body took too long")
HEADERS_TOO_LARGE = _refusal(
    HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "headers_too_large", "the request headers are too large or too many"
)


class _HeadersTooLarge(Exception):
    """Raised from a parser callback: httptools stops parsing and uvicorn calls `send_400_response`."""


class GatewayHttpProtocol(HttpToolsProtocol):
    limits: RequestLimits  # set by `protocol_with_limits`

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._reading_headers = True
        self._headers_completed = 0  # on this connection: tells whether a request's headers ended inside a read
        self._header_bytes = 0  # of the request being read, received while its headers were incomplete
        self._field_bytes = 0  # of the request being read, as the parser reported its URL and fields
        self._field_count = 0
        self._too_large = False
        self._discarding = False

    def _arm(self, seconds: float, expire: Callable[[], None]) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _refuse(self, response: bytes | None, what: str, status: int) -> None:
        """Answer (unless an answer has started) and close. A socket closed with unread bytes resets the connection,
        and the reset can destroy the answer before the client reads it: with no other
        answer in progress, the write side is shut first and what still arrives is discarded for `LINGER_SECONDS`,
        as servers' "lingering close" does."""
        logger.info(what, extra={"fields": {"status": status, "client": str(self.client)}})
        idle = self.cycle is None or self.cycle.response_complete
        if response is None or not idle or not self.transport.can_write_eof():
            if response is not None:
                self.transport.write(response)
            self.transport.close()
            return
        self.transport.write(response)
        self.transport.write_eof()
        self._discarding = True
        self._arm(LINGER_SECONDS, self.transport.close)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.limits.header_read_timeout, self._headers_too_slow)

    def data_received(self, data: bytes) -> None:
        if self._discarding:
            return
        reading_headers, completed = self._reading_headers, self._headers_completed
        super().data_received(data)
        if reading_headers and self._reading_headers and completed == self._headers_completed:
            # The whole read belongs to one request's unfinished headers: bounded before the parser buffers more.
            self._header_bytes += len(data)
            if self._header_bytes > self.limits.max_header_bytes and not self.transport.is_closing():
                self._refuse(HEADERS_TOO_LARGE, "request headers too large", 431)

    def send_400_response(self, msg: str) -> None:
        if self._too_large:
            self._refuse(HEADERS_TOO_LARGE, "request headers too large", 431)
        else:
            super().send_400_response(msg)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm(self.limits.header_read_timeout, self._headers_too_slow)

    def _count(self, size: int, fields: int) -> None:
        self._field_bytes += size
        self._field_count += fields
        if self._field_bytes > self.limits.max_header_bytes or self._field_count > self.limits.max_header_count:
            self._too_large = True
            raise _HeadersTooLarge

    def on_url(self, url: bytes) -> None:
        self._count(len(url), 0)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4, 1)  # with ": " and CRLF, as received
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._reading_headers = False
        self._headers_completed += 1
        self._header_bytes = self._field_bytes = self._field_count = 0
        self._arm(self.limits.body_read_timeout, self._body_too_slow)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        self._reading_headers = True
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _headers_too_slow(self) -> None:
        self._deadline = None
        if self.transport.is_closing() or (self.cycle is not None and not self.cycle.response_complete):
            return
        self._refuse(HEADER_TIMEOUT, "header read timeout", 408)

    def _body_too_slow(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self.pipeline:  # queued behind an answer in progress, and not read meanwhile: its time has not begun
            self._arm(self.limits.body_read_timeout, self._body_too_slow)
            return
        answered = self.cycle is not None and self.cycle.response_started
        self._refuse(None if answered else BODY_TIMEOUT, "body read timeout", 408)


def protocol_with_limits(limits: RequestLimits) -> type[GatewayHttpProtocol]:
    """A protocol class for uvicorn's `http=` setting (it takes a class, so the limits are a class attribute)."""
    return type("GatewayHttpProtocol", (GatewayHttpProtocol,), {"limits": limits})
