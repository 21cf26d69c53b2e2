"""The smoke test passes only when the live endpoint answers the model's health-check row with numbers."""

from __future__ import annotations

import io
from typing import Any

import pytest

from safedeploy.guardrails.deploy import deploy_package
from safedeploy.guardrails.endpoint_status import EndpointWaiter
from safedeploy.guardrails.errors import SmokeTestFailed
from safedeploy.guardrails.smoke_test import parse_predictions, smoke_test
from testbed.aws import REGION
from testbed.deploy_world import CONTRACT, ENDPOINT, register_package
from testbed.moto_sagemaker import EndpointUpdates, queue_invocation_results


@pytest.fixture
def deployed(sm: Any, target_for: Any, waiter: EndpointWaiter) -> None:
    deploy_package(sm, register_package(sm), target_for(), waiter)


def test_a_prediction_passes(sm: Any, runtime: Any, deployed: None) -> None:
    queue_invocation_results(REGION, "0.873")
    result = smoke_test(sm, runtime, ENDPOINT, CONTRACT)
    assert (result.predictions, result.variant) == ((0.873,), "AllTraffic")


def test_an_answer_that_is_not_a_prediction_fails(sm: Any, runtime: Any, deployed: None) -> None:
    queue_invocation_results(REGION, "<html>502 Bad Gateway</html>")
    with pytest.raises(SmokeTestFailed, match=f"{ENDPOINT} failed the smoke test: the endpoint answered '<html>502"):
        smoke_test(sm, runtime, ENDPOINT, CONTRACT)


def test_a_missing_endpoint_fails(sm: Any, runtime: Any) -> None:
    with pytest.raises(SmokeTestFailed, match=f"endpoint {ENDPOINT} does not exist: deploy a model first"):
        smoke_test(sm, runtime, ENDPOINT, CONTRACT)


def test_an_endpoint_not_in_service_fails(sm: Any, runtime: Any, deployed: None, updates: EndpointUpdates) -> None:
    sm.update_endpoint(EndpointName=ENDPOINT, EndpointConfigName=f"{ENDPOINT}-v1")
    with pytest.raises(SmokeTestFailed, match=f"endpoint {ENDPOINT} is Updating, not InService"):
        smoke_test(sm, runtime, ENDPOINT, CONTRACT)


@pytest.mark.parametrize(("text", "values"), [("0.5", (0.5,)), ("0.1,0.9\n", (0.1, 0.9)), ("[0.25]", (0.25,))])
def test_prediction_formats(text: str, values: tuple[float, ...]) -> None:
    assert parse_predictions(text) == values


@pytest.mark.parametrize("text", ["", "nan", "body", '{"error": 1}'])
def test_non_predictions(text: str) -> None:
    with pytest.raises(SmokeTestFailed, match="which is not a prediction"):
        parse_predictions(text)


def test_the_request_is_the_contracts_health_check_row(sm: Any, deployed: None) -> None:
    class Recording:
        def __init__(self) -> None:
            self.sent: list[dict[str, Any]] = []

        def invoke_endpoint(self, **request: Any) -> dict[str, Any]:
            self.sent.append(request)
            return {"Body": io.BytesIO(b"0.5\n"), "InvokedProductionVariant": "AllTraffic"}

    runtime = Recording()
    smoke_test(sm, runtime, ENDPOINT, CONTRACT)
    assert runtime.sent == [{"EndpointName": ENDPOINT, "ContentType": "text/csv", "Body": b"12,1,42.5"}]
