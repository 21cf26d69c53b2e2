"""uvicorn's HTTP protocol with a deadline on reading request headers.

uvicorn times out idle keep-alive connections, but not a connection that sends its headers slowly: a new connection
has no timer at all, and any byte cancels the keep-alive one. A few hundred such connections hold a worker's file
descriptors forever (slowloris). Here every request's headers must be complete within `HEADER_READ_TIMEOUT_SECONDS`
of its connection or its first byte, or the connection is answered 408 and closed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

logger = logging.getLogger("gateway.access")

_TIMEOUT_BODY = b'{"error": {"code": "header_timeout", "message": "the request headers took too long"}}'
TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
    + f"content-length: {len(_TIMEOUT_BODY)}\r\n\r\n".encode("ascii")
    + _TIMEOUT_BODY
)


class HeaderTimeoutProtocol(HttpToolsProtocol):
    header_read_timeout: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        self._header_deadline = self.loop.call_later(self.header_read_timeout, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if self.transport.is_closing() or (self.cycle is not None and not self.cycle.response_complete):
            return
        logger.info("header read timeout", extra={"fields": {"status": 408, "client": str(self.client)}})
        self.transport.write(TIMEOUT_RESPONSE)
        self.transport.close()


def protocol_with_timeout(seconds: float) -> type[HeaderTimeoutProtocol]:
    """A protocol class for uvicorn's `http=` setting (it takes a class, so the timeout is a class attribute)."""
    return type("GatewayHttpProtocol", (HeaderTimeoutProtocol,), {"header_read_timeout": seconds})
