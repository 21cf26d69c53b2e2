"""Reading a request body without trusting it: bounded in size before it is buffered, JSON decoded strictly."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from .errors import GatewayError

JSON = "application/json"
CSV = "text/csv"
MAX_LENGTH_DIGITS = 18


def _too_large(limit: int) -> GatewayError:
    return GatewayError(413, "payload_too_large", f"the body exceeds {limit} bytes")


async def read_body(request: Request, limit: int) -> bytes:
    """Refuse on Content-Length when given, and count while reading when not (chunked uploads)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        # Bounded before int(): Python refuses to convert integers of more than 4300 digits (ValueError).
        if not (declared.isascii() and declared.isdigit()) or len(declared) > MAX_LENGTH_DIGITS:
            raise GatewayError(400, "invalid_content_length", "Content-Length is not a number")
        if int(declared) > limit:
            raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def unsupported_media_type(found: str, accepted: tuple[str, ...]) -> GatewayError:
    return GatewayError(
        415, "unsupported_media_type", f"Content-Type {found or '(none)'} is not accepted; send {' or '.join(accepted)}"
    )


def _refuse_constant(name: str) -> float:
    raise GatewayError(400, "invalid_json", f"{name} is not a JSON number; send finite numbers")


def load_json(body: bytes) -> Any:
    """JSON or 400: a ValueError covers integers beyond Python's 4300-digit conversion limit, which json raises
    as a plain ValueError rather than a JSONDecodeError."""
    try:
        return json.loads(body, parse_constant=_refuse_constant)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
        raise GatewayError(400, "invalid_json", f"the body is not valid JSON: {error}") from None
    except ValueError:
        raise GatewayError(400, "invalid_json", "the body holds a number too long to read") from None
