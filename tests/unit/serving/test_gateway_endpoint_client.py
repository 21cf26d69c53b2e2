"""The endpoint client against an address where nothing listens: bounded attempts, each one counted, then a 503."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
import boto3
import pytest

from safedeploy.model_wire import CSV, PROBABILITY
from serving.gateway.aws_signing import RuntimeSigner
from serving.gateway.endpoint_client import EndpointClient, ModelWire, RetryPolicy
from serving.gateway.errors import GatewayError
from testbed.aws import FAKE_CREDENTIALS, REGION


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_endpoint_is_retried_then_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", f"http://127.0.0.1:{_closed_port()}")
    failed_variants: list[str | None] = []

    async def scenario() -> GatewayError:
        async with aiohttp.ClientSession() as http:
            client = EndpointClient(
                http,
                RuntimeSigner(boto3.session.Session(), REGION),
                ModelWire(CSV, PROBABILITY),
                "my-endpoint",
                aiohttp.ClientTimeout(total=2),
                RetryPolicy(max_attempts=3, backoff_seconds=0.001, retry_after_seconds=9),
                on_error=failed_variants.append,
            )
            with pytest.raises(GatewayError) as raised:
                await client.invoke([[1.0, 2.0]])
            return raised.value

    error = asyncio.run(scenario())
    assert (error.status, error.code, error.headers) == (503, "endpoint_unavailable", {"Retry-After": "9"})
    assert "after 3 attempts (ConnectionError)" in error.message
    assert failed_variants == [None, None, None]


def test_backoff_is_jittered_and_bounded() -> None:
    policy = RetryPolicy(max_attempts=3, backoff_seconds=0.1, retry_after_seconds=5)
    delays = [policy.delay(attempt) for attempt in (0, 1, 2) for _ in range(200)]
    assert all(0 <= delay <= 0.4 for delay in delays)
    assert len(set(delays)) > 100
