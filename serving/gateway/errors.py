"""Every refusal as one JSON shape, so callers can branch on `error.code` and read `error.message`."""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.responses import Response


class GatewayError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def error_response(
    status: int, code: str, message: str, request_id: str, headers: Mapping[str, str] | None = None
) -> Response:
    body = {"error": {"code": code, "message": message, "request_id": request_id}}
    return Response(json.dumps(body), status_code=status, headers=headers, media_type="application/json")
