"""Smoke test: the live endpoint must answer the model's health-check row with a prediction.

It catches what alarms cannot see right after a deploy with no traffic yet: a container that starts but cannot
parse the feature row, or answers something that is not a number. The row and its content type are the model's
serving contract (`model.contract` in cdk.json, published as the environment's `serving-contract` parameter).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from safedeploy.guardrails.endpoint_status import IN_SERVICE, describe_endpoint
from safedeploy.guardrails.errors import SmokeTestFailed
from safedeploy.serving_contract import ServingContract


@dataclass(frozen=True)
class SmokeResult:
    endpoint_name: str
    variant: str | None
    predictions: tuple[float, ...]

    def summary(self) -> str:
        served = f" (variant {self.variant})" if self.variant else ""
        return f"smoke test passed: {self.endpoint_name}{served} predicted {', '.join(map(str, self.predictions))}"


def parse_predictions(text: str) -> tuple[float, ...]:
    """Numbers separated by commas, spaces, new lines or JSON brackets; anything else is not a prediction."""
    tokens = [token for token in re.split(r"[\s,\[\]]+", text) if token]
    try:
        values = tuple(float(token) for token in tokens)
    except ValueError:
        values = ()
    if not values or not all(math.isfinite(value) for value in values):
        raise SmokeTestFailed(f"the endpoint answered {text[:200]!r}, which is not a prediction (finite numbers)")
    return values


def smoke_test(
    sm: Any, runtime: Any, endpoint_name: str, contract: ServingContract, body: str | None = None
) -> SmokeResult:
    """`body` (default: the contract's health-check row) is sent as the contract's content type."""
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
    text = response["Body"].read().decode("utf-8", errors="replace")
    try:
        predictions = parse_predictions(text)
    except SmokeTestFailed as error:
        raise SmokeTestFailed(f"{endpoint_name} failed the smoke test: {error}") from None
    return SmokeResult(endpoint_name, response.get("InvokedProductionVariant"), predictions)
