"""A regressor behind the gateway: its contract (JSON to the endpoint, a value back, feedback within a tolerance)
set as the serving stack sets it, from `ServingContract.gateway_environment`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from safedeploy.serving_contract import ServingContract
from serving.stub_endpoint import StubBehaviour, StubReply, running_stub
from testbed.gateway_harness import SECRET_VARIABLE, Gateway, GatewayAccess, GatewayEnv, running_gateway

pytestmark = pytest.mark.integration

REGRESSOR = ServingContract.from_mapping(
    {
        "content_type": "application/json",
        "features": ["rooms", "area", "age"],
        "health_check": [3, 82.5, 10],
        "answer": {"kind": "value", "tolerance": 5, "healthy": [10, 900]},
    }
)


@pytest.fixture(scope="module")
def endpoint() -> Iterator[tuple[StubBehaviour, str]]:
    behaviour = StubBehaviour(variants=("AllTraffic",))
    with running_stub(behaviour) as url:
        yield behaviour, url


@pytest.fixture(scope="module")
def regressor_gateway(
    gateway_env: GatewayEnv,
    endpoint: tuple[StubBehaviour, str],
    access: GatewayAccess,
    injected_secret: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Gateway]:
    env = gateway_env(endpoint[1], **REGRESSOR.gateway_environment(), **{SECRET_VARIABLE: injected_secret})
    with running_gateway(env, tmp_path_factory.mktemp("regressor") / "stdout.log", access.api_key) as running:
        yield running


@pytest.fixture
def stub(endpoint: tuple[StubBehaviour, str]) -> StubBehaviour:
    endpoint[0].reset()
    return endpoint[0]


def _predict(gateway: Gateway, stub: StubBehaviour, answer: bytes) -> httpx.Response:
    stub.scripted.append(StubReply(body=answer))
    with gateway.client() as client:
        return client.post("/predict", content=b"3,82.5,10\n", headers={"Content-Type": "text/csv"})


def _feedback(gateway: Gateway, body: dict[str, Any]) -> httpx.Response:
    with gateway.client() as client:
        return client.post("/feedback", json=body)


def test_the_endpoint_gets_json_and_the_caller_a_value(regressor_gateway: Gateway, stub: StubBehaviour) -> None:
    response = _predict(regressor_gateway, stub, b'{"predictions": [312.5]}')
    assert response.status_code == 200, response.text
    prediction = response.json()["predictions"][0]
    assert prediction.keys() == {"prediction_id", "value"} and prediction["value"] == 312.5
    sent = stub.received[-1]
    assert sent.headers["content-type"] == sent.headers["accept"] == "application/json"
    assert json.loads(sent.body) == {"instances": [[3.0, 82.5, 10.0]]}


def test_feedback_within_the_tolerance_is_correct(regressor_gateway: Gateway, stub: StubBehaviour) -> None:
    ids = [_predict(regressor_gateway, stub, b'{"predictions": [312.5]}').json()["predictions"][0]["prediction_id"]
           for _ in range(2)]  # fmt: skip
    near, far = (
        _feedback(regressor_gateway, {"prediction_id": ids[0], "value": 316}),
        _feedback(regressor_gateway, {"prediction_id": ids[1], "value": 320}),
    )
    assert [(near.status_code, near.json()["correct"]), (far.status_code, far.json()["correct"])] == [
        (200, True),
        (200, False),
    ]


def test_a_label_is_not_a_regressors_feedback(regressor_gateway: Gateway, stub: StubBehaviour) -> None:
    prediction_id = _predict(regressor_gateway, stub, b'{"predictions": [1]}').json()["predictions"][0]
    answer = _feedback(regressor_gateway, {"prediction_id": prediction_id["prediction_id"], "label": 1})
    assert (answer.status_code, answer.json()["error"]["code"]) == (422, "invalid_feedback")
    assert "value must be a finite number" in answer.json()["error"]["message"]


@pytest.mark.parametrize("answer", [b"312.5\n", b'{"predictions": ["312.5"]}', b'{"predictions": [1, 2]}'])
def test_an_answer_outside_the_contract_is_a_502(
    regressor_gateway: Gateway, stub: StubBehaviour, answer: bytes
) -> None:
    response = _predict(regressor_gateway, stub, answer)
    assert (response.status_code, response.json()["error"]["code"]) == (502, "bad_model_output")
