"""Every response carries a request id, and an unexpected exception becomes a JSON 500 instead of a dead worker."""

from __future__ import annotations

import asyncio

import httpx
from starlette.types import Receive, Scope, Send

from serving.gateway.request_context import RequestContextMiddleware


async def _broken_app(scope: Scope, receive: Receive, send: Send) -> None:
    raise RuntimeError("a bug")


def _get(headers: dict[str, str]) -> httpx.Response:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=RequestContextMiddleware(_broken_app))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            return await client.get("/predict", headers=headers)

    return asyncio.run(call())


def test_an_unhandled_error_is_a_json_500_with_the_request_id() -> None:
    response = _get({"X-Request-Id": "abc-123"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "abc-123"
    assert response.json()["error"] == {
        "code": "internal_error",
        "message": "the gateway failed; the error is logged",
        "request_id": "abc-123",
    }


def test_an_implausible_caller_id_is_replaced() -> None:
    response = _get({"X-Request-Id": "not ok; <script>"})
    assert response.headers["x-request-id"] != "not ok; <script>"
    assert len(response.headers["x-request-id"]) == 32
