"""A just-created endpoint config that SageMaker cannot see yet is retried, bounded, with progress; nothing else is."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from safedeploy.guardrails.consistency import RETRY_DELAYS_SECONDS, call_when_visible
from safedeploy.guardrails.deploy import DeployAction, deploy_package
from safedeploy.guardrails.endpoint_status import EndpointWaiter
from testbed.deploy_world import ENDPOINT, register_package

CONFIG_ARN = f"arn:aws:sagemaker:ap-northeast-2:123456789012:endpoint-config/{ENDPOINT}-v2"
NOT_FOUND = f"Could not find endpoint configuration {CONFIG_ARN}."


def validation_error(operation: str, message: str = NOT_FOUND) -> ClientError:
    return ClientError({"Error": {"Code": "ValidationException", "Message": message}}, operation)


class Flaky:
    """Fails `failures` times with `error`, then answers."""

    def __init__(self, failures: int, error: ClientError) -> None:
        self.failures, self.error, self.calls = failures, error, 0

    def __call__(self, **request: Any) -> dict[str, Any]:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return {"EndpointArn": "arn", **request}


def test_retries_until_the_config_is_visible_with_a_line_per_wait() -> None:
    lines: list[str] = []
    waits: list[float] = []
    call = Flaky(2, validation_error("UpdateEndpoint"))
    result = call_when_visible(call, progress=lines.append, sleep=waits.append, EndpointConfigName="c-v2")
    assert result["EndpointConfigName"] == "c-v2" and call.calls == 3
    assert waits == [1.0, 2.0]
    assert lines[0] == (
        "UpdateEndpoint: SageMaker does not see endpoint config c-v2 yet (eventually consistent); retry 1/5 in 1 s"
    )


def test_gives_up_after_the_last_wait_with_the_original_error() -> None:
    waits: list[float] = []
    call = Flaky(100, validation_error("CreateEndpoint"))
    with pytest.raises(ClientError, match="Could not find endpoint configuration"):
        call_when_visible(call, progress=lambda _: None, sleep=waits.append, EndpointConfigName="c-v2")
    assert waits == list(RETRY_DELAYS_SECONDS) and call.calls == len(RETRY_DELAYS_SECONDS) + 1
    assert sum(waits) <= 60


@pytest.mark.parametrize(
    "error",
    [
        validation_error("UpdateEndpoint", "Cannot update in-progress endpoint"),
        ClientError({"Error": {"Code": "ThrottlingException", "Message": NOT_FOUND}}, "UpdateEndpoint"),
    ],
)
def test_other_errors_are_not_retried(error: ClientError) -> None:
    call = Flaky(1, error)
    with pytest.raises(ClientError):
        call_when_visible(call, progress=lambda _: None, sleep=lambda _: None, EndpointConfigName="c-v2")
    assert call.calls == 1


def fail_first(sm: Any, operation: str, times: int) -> list[int]:
    """Make the real client's `operation` answer SageMaker's not-yet-visible error `times` times."""
    seen: list[int] = []

    def refuse(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        seen.append(1)
        if len(seen) > times:
            return None
        body = {"Error": {"Code": "ValidationException", "Message": NOT_FOUND}, "ResponseMetadata": {}}
        return AWSResponse("https://api.sagemaker", 400, {}, None), body

    sm.meta.events.register(f"before-call.sagemaker.{operation}", refuse)
    return seen


@pytest.mark.parametrize(("operation", "first"), [("CreateEndpoint", True), ("UpdateEndpoint", False)])
def test_deploy_survives_a_config_not_yet_visible(
    sm: Any, target_for: Any, waiter: EndpointWaiter, progress: list[str], operation: str, first: bool
) -> None:
    target = target_for(strategy="canary")
    if not first:
        deploy_package(sm, register_package(sm), target, waiter)
    seen = fail_first(sm, operation, times=2)

    result = deploy_package(sm, register_package(sm), target, waiter)

    assert result.action is (DeployAction.CREATED if first else DeployAction.UPDATED)
    assert len(seen) == 3
    assert sum("eventually consistent" in line for line in progress) == 2
