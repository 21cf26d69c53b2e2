"""Readiness: serving states count as ready, the answer is cached, and concurrent probes share one call."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from serving.gateway.readiness import ReadinessProbe, readiness_of


@pytest.mark.parametrize(
    ("status", "ready"),
    [("InService", True), ("Updating", True), ("SystemUpdating", True), ("RollingBack", True),
     ("UpdateRollbackFailed", True), ("Creating", True), ("Failed", False), ("OutOfService", False),
     ("Deleting", False)],
)  # fmt: skip
def test_an_endpoint_that_takes_traffic_is_ready(status: str, ready: bool) -> None:
    assert readiness_of({"EndpointStatus": status}).ready is ready


@pytest.mark.parametrize(
    ("status", "state"), [("InService", "ready"), ("Creating", "awaiting_endpoint"), ("Failed", "not_ready")]
)
def test_bootstrap_states_keep_the_gateway_up_but_say_so(status: str, state: str) -> None:
    """Before the first model exists, an unhealthy target group would make ECS fail `cdk deploy` of the gateway."""
    assert readiness_of({"EndpointStatus": status}).state == state


def test_a_failed_endpoint_says_why() -> None:
    assert readiness_of({"EndpointStatus": "Failed", "FailureReason": "image not found"}).detail == "image not found"


class Describe:
    def __init__(self, answers: list[Any]) -> None:
        self.answers = answers
        self.calls = 0
        self.release = threading.Event()
        self.release.set()

    def __call__(self) -> dict[str, Any]:
        self.calls += 1
        self.release.wait(5)
        answer = self.answers[min(self.calls, len(self.answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return {"EndpointStatus": answer}


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_answer_is_cached_for_the_ttl() -> None:
    describe, clock = Describe(["InService", "Failed"]), Clock()
    probe = ReadinessProbe(describe, ttl_seconds=5, clock=clock)

    async def scenario() -> list[bool]:
        first = await probe.check()
        clock.now = 4.9
        cached = await probe.check()
        clock.now = 5.0
        refreshed = await probe.check()
        return [first.ready, cached.ready, refreshed.ready]

    assert asyncio.run(scenario()) == [True, True, False]
    assert describe.calls == 2


def test_concurrent_probes_share_one_describe_call() -> None:
    describe = Describe(["InService"])
    describe.release.clear()
    probe = ReadinessProbe(describe, ttl_seconds=5, clock=Clock())

    async def scenario() -> list[bool]:
        probes = [asyncio.create_task(probe.check()) for _ in range(10)]
        await asyncio.sleep(0.05)
        describe.release.set()
        return [result.ready for result in await asyncio.gather(*probes)]

    assert asyncio.run(scenario()) == [True] * 10
    assert describe.calls == 1


def test_a_missing_endpoint_awaits_the_first_deploy() -> None:
    missing = ClientError(
        {"Error": {"Code": "ValidationException", "Message": "Could not find endpoint x"}}, "Describe"
    )
    readiness = asyncio.run(ReadinessProbe(Describe([missing]), ttl_seconds=5).check())
    assert (readiness.state, readiness.endpoint_status) == ("awaiting_endpoint", "NotFound")
    assert "no model deployed yet" in readiness.detail


@pytest.mark.parametrize(
    ("error", "status", "detail"),
    [
        (ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "Describe"),
         "Unknown", "AccessDeniedException"),
        (EndpointConnectionError(endpoint_url="https://sagemaker"), "Unknown", "EndpointConnectionError"),
    ],
)  # fmt: skip
def test_a_failed_describe_is_not_ready_and_says_why(error: Exception, status: str, detail: str) -> None:
    readiness = asyncio.run(ReadinessProbe(Describe([error]), ttl_seconds=5).check())
    assert (readiness.ready, readiness.endpoint_status) == (False, status)
    assert detail in readiness.detail
