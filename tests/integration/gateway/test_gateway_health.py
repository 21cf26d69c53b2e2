"""Health over HTTP as the endpoint comes and goes in moto, and predictions answered by moto's sagemaker-runtime."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.gateway.gateway_harness import ENDPOINT, Gateway, wait_until
from tests.support.aws import REGION, MotoServer
from tests.support.deploy_world import ROLE_ARN
from tests.support.moto_sagemaker import endpoint_updates

pytestmark = pytest.mark.integration

ROW = [0.5, 1, 0, 1, 0, 0, 1, 1]


def _create_config(sm: Any, name: str) -> None:
    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE_ARN, PrimaryContainer={"Image": "image"})
    variant = {"VariantName": "AllTraffic", "ModelName": name, "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant])


@pytest.fixture
def sm(moto: MotoServer) -> Iterator[Any]:
    """moto's SageMaker with no endpoint of the gateway's name, before and after the test."""
    client = moto.client("sagemaker")
    yield client
    for endpoint in client.list_endpoints()["Endpoints"]:
        client.delete_endpoint(EndpointName=endpoint["EndpointName"])
    for config in client.list_endpoint_configs()["EndpointConfigs"]:
        client.delete_endpoint_config(EndpointConfigName=config["EndpointConfigName"])
    for model in client.list_models()["Models"]:
        client.delete_model(ModelName=model["ModelName"])


def _ready(gateway: Gateway) -> httpx.Response:
    return httpx.get(f"{gateway.url}/health/ready", timeout=10)


def _ready_with(gateway: Gateway, field: str, value: str) -> httpx.Response | None:
    response = _ready(gateway)
    return response if response.json()[field] == value else None


def test_readiness_follows_the_endpoint(gateway: Gateway, sm: Any) -> None:
    absent = _ready(gateway)  # before the first model: up, so that `cdk deploy` of the gateway can finish
    assert absent.status_code == 200
    assert (absent.json()["status"], absent.json()["endpoint_status"]) == ("awaiting_endpoint", "NotFound")

    _create_config(sm, "config-v1")
    sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName="config-v1")
    ready = wait_until(lambda: _ready_with(gateway, "status", "ready"), "the gateway to become ready")
    assert ready.json() == {
        "status": "ready",
        "endpoint_name": ENDPOINT,
        "endpoint_status": "InService",
        "detail": "the endpoint takes traffic",
    }

    # A deployment in progress keeps serving: the gateway must stay ready through it.
    _create_config(sm, "config-v2")
    endpoint_updates(REGION).plan(ENDPOINT, "succeed", polls=10_000)
    sm.update_endpoint(EndpointName=ENDPOINT, EndpointConfigName="config-v2")
    updating = wait_until(lambda: _ready_with(gateway, "endpoint_status", "Updating"), "the update to be seen")
    assert updating.status_code == 200

    sm.delete_endpoint(EndpointName=ENDPOINT)
    gone = wait_until(lambda: _ready_with(gateway, "endpoint_status", "NotFound"), "the deletion to be seen")
    assert (gone.status_code, gone.json()["status"]) == (200, "awaiting_endpoint")
    assert httpx.get(f"{gateway.url}/health/live", timeout=10).json() == {"status": "live"}


def test_predictions_answered_by_moto_runtime(peer: Gateway, moto: MotoServer, sm: Any) -> None:
    with peer.client() as client:
        before = client.post("/predict", json={"instances": [ROW]})
        assert (before.status_code, before.json()["error"]["code"]) == (503, "endpoint_unavailable")

        _create_config(sm, "config-v7")
        sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName="config-v7")
        result = {"Body": "0.812500\n", "ContentType": "text/csv", "InvokedProductionVariant": "v7"}
        httpx.post(
            f"{moto.url}/moto-api/static/sagemaker/endpoint-results", json={"region": REGION, "results": [result]}
        )
        response = client.post("/predict", json={"instances": [ROW]})

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["variant"], body["model_version"]) == ("v7", 7)
    assert [(p["score"], p["label"]) for p in body["predictions"]] == [(0.8125, 1)]
