"""The smoke test passes only when the live endpoint answers the model's health-check row with a healthy number."""

from __future__ import annotations

import io
from typing import Any

import pytest

from safedeploy.guardrails.deploy import deploy_package
from safedeploy.guardrails.endpoint_status import EndpointWaiter
from safedeploy.guardrails.errors import SmokeTestFailed
from safedeploy.guardrails.smoke_test import smoke_test
from safedeploy.serving_contract import ServingContract
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
    with pytest.raises(SmokeTestFailed, match=f"{ENDPOINT} failed the smoke test: it answered '<html>502"):
        smoke_test(sm, runtime, ENDPOINT, CONTRACT)


def test_a_missing_endpoint_fails(sm: Any, runtime: Any) -> None:
    with pytest.raises(SmokeTestFailed, match=f"endpoint {ENDPOINT} does not exist: deploy a model first"):
        smoke_test(sm, runtime, ENDPOINT, CONTRACT)


def test_an_endpoint_not_in_service_fails(sm: Any, runtime: Any, deployed: None, updates: EndpointUpdates) -> None:
    sm.update_endpoint(EndpointName=ENDPOINT, EndpointConfigName=f"{ENDPOINT}-v1")
    with pytest.raises(SmokeTestFailed, match=f"endpoint {ENDPOINT} is Updating, not InService"):
        smoke_test(sm, runtime, ENDPOINT, CONTRACT)


REGRESSOR = ServingContract.from_mapping(
    {
        "content_type": "application/json",
        "features": ["rooms", "area", "age"],
        "health_check": [3, 82.5, 10],
        "answer": {"kind": "value", "tolerance": 5, "healthy": [10, 900]},
    }
)


@pytest.mark.parametrize(
    ("contract", "answer", "values"),
    [
        (CONTRACT, b"0.5", (0.5,)),
        (CONTRACT, b"0.25\n", (0.25,)),
        (REGRESSOR, b'{"predictions": [312.5]}', (312.5,)),
    ],
)
def test_a_healthy_answer_in_the_contracts_format_passes(
    sm: Any, deployed: None, contract: ServingContract, answer: bytes, values: tuple[float, ...]
) -> None:
    assert smoke_test_with(sm, contract, answer).predictions == values


@pytest.mark.parametrize(
    ("contract", "answer", "problem"),
    [
        (CONTRACT, b"", "it answered 0 numbers for one row"),
        (CONTRACT, b"nan", "it answered 'nan': the answer holds nan, not a probability in \\[0, 1\\]"),
        (CONTRACT, b"1.5", "not a probability in \\[0, 1\\]"),
        (CONTRACT, b"0.1,0.9", "it answered 2 numbers for one row"),
        (CONTRACT, b'{"error": 1}', "not a number"),
        (REGRESSOR, b"312.5", 'not a JSON object with "predictions"'),
        (REGRESSOR, b'{"predictions": ["312"]}', "the answer holds a str, not a number"),
        (REGRESSOR, b'{"predictions": [5]}', "it answered 5, outside the healthy range \\[10, 900\\]"),
    ],
)
def test_an_unhealthy_answer_fails(
    sm: Any, deployed: None, contract: ServingContract, answer: bytes, problem: str
) -> None:
    with pytest.raises(SmokeTestFailed, match=f"^{ENDPOINT} failed the smoke test: .*{problem}"):
        smoke_test_with(sm, contract, answer)


class Recording:
    def __init__(self, answer: bytes = b"0.5\n") -> None:
        self.answer = answer
        self.sent: list[dict[str, Any]] = []

    def invoke_endpoint(self, **request: Any) -> dict[str, Any]:
        self.sent.append(request)
        return {"Body": io.BytesIO(self.answer), "InvokedProductionVariant": "AllTraffic"}


def smoke_test_with(sm: Any, contract: ServingContract, answer: bytes) -> Any:
    return smoke_test(sm, Recording(answer), ENDPOINT, contract)


def test_the_request_is_the_contracts_health_check_row(sm: Any, deployed: None) -> None:
    runtime = Recording()
    smoke_test(sm, runtime, ENDPOINT, CONTRACT)
    assert runtime.sent == [{"EndpointName": ENDPOINT, "ContentType": "text/csv", "Body": b"12.0,1.0,42.5\n"}]


def test_a_json_contracts_row_is_sent_as_json(sm: Any, deployed: None) -> None:
    runtime = Recording(b'{"predictions": [300]}')
    smoke_test(sm, runtime, ENDPOINT, REGRESSOR)
    assert runtime.sent == [
        {"EndpointName": ENDPOINT, "ContentType": "application/json", "Body": b'{"instances":[[3.0,82.5,10.0]]}'}
    ]
