"""Smoke test: the live endpoint must answer the model's health-check row with a healthy prediction.

It catches what alarms cannot see right after a deploy with no traffic yet: a container that starts but cannot
parse the feature row, answers something that is not a number, or a number outside the healthy range. The row, its
content type and what a healthy answer is are the model's serving contract (`model.contract` in cdk.json, published
as the environment's `serving-contract` parameter).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from safedeploy.guardrails.endpoint_status import IN_SERVICE, describe_endpoint
from safedeploy.guardrails.errors import SmokeTestFailed
from safedeploy.model_wire import UnreadableAnswer
from safedeploy.serving_contract import ServingContract


@dataclass(frozen=True)
class SmokeResult:
    endpoint_name: str
    variant: str | None
    predictions: tuple[float, ...]

    def summary(self) -> str:
        served = f" (variant {self.variant})" if self.variant else ""
        return f"smoke test passed: {self.endpoint_name}{served} predicted {', '.join(map(str, self.predictions))}"


def smoke_test(
    sm: Any, runtime: Any, endpoint_name: str, contract: ServingContract, body: str | None = None
) -> SmokeResult:
    """`body` (default: the contract's health-check row) is sent as the contract's content type; the answer must be
    numbers in the contract's format, and the health-check row's answer must also be healthy."""
    body = contract.health_check_body() if body is None else body
    snapshot = describe_endpoint(sm, endpoint_name)
    if snapshot is None:
        raise SmokeTestFailed(f"endpoint {endpoint_name} does not exist: deploy a model first")
    if snapshot.status != IN_SERVICE:
        raise SmokeTestFailed(f"endpoint {endpoint_name} is {snapshot.status}, not {IN_SERVICE}")
    try:
        response = runtime.invoke_endpoint(
            EndpointName=endpoint_name, ContentType=contract.content_type, Body=body.encode()
        )
    except ClientError as error:
        details = error.response.get("Error", {})
        raise SmokeTestFailed(
            f"invoking {endpoint_name} with the health-check row {body!r} failed: "
            f"{details.get('Code', 'error')}: {details.get('Message', error)}"
        ) from None
    payload = response["Body"].read()
    try:
        predictions = contract.read_answers(payload)
    except UnreadableAnswer as error:
        text = payload.decode("utf-8", errors="replace")
        raise SmokeTestFailed(f"{endpoint_name} failed the smoke test: it answered {text[:200]!r}: {error}") from None
    problem = "it answered no prediction" if not predictions else None
    if body == contract.health_check_body():
        problem = contract.health_problem(predictions)
    if problem is not None:
        raise SmokeTestFailed(f"{endpoint_name} failed the smoke test: {problem}")
    return SmokeResult(endpoint_name, response.get("InvokedProductionVariant"), predictions)
