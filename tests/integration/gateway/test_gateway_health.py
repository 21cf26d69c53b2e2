"""Health over HTTP as the endpoint comes and goes in moto, and predictions answered by moto's sagemaker-runtime."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from testbed.aws import REGION, IsolatedMotoServer
from testbed.deploy_world import ROLE_ARN
from testbed.gateway_harness import ENDPOINT, Gateway, wait_until

pytestmark = pytest.mark.integration

ROW = [0.5, 1, 0, 1, 0, 0, 1, 1]


def _create_config(sm: Any, name: str) -> None:
    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE_ARN, PrimaryContainer={"Image": "image"})
    variant = {"VariantName": "AllTraffic", "ModelName": name, "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant])


def _ready(gateway: Gateway) -> httpx.Response:
    return httpx.get(f"{gateway.url}/health/ready", timeout=10)


def _answer_once_settled(gateway: Gateway, status: str) -> httpx.Response:
    """The first /health/ready answer in `status`. Each worker caches its own readiness for READY_CACHE_SECONDS, so
    right after one worker logs a change, a connection that lands on the other can still get the old state from its
    cache (a worker that refreshed 95 ms before the change answered `ready` after the deletion was logged)."""

    def answer() -> httpx.Response | None:
        response = _ready(gateway)
        return response if response.json()["status"] == status else None

    return wait_until(answer, f"/health/ready to answer {status}")


def _changes(gateway: Gateway) -> list[dict[str, Any]]:
    return [line for line in map(json.loads, gateway.lines()) if line.get("message") == "readiness changed"]


def _readiness_logged(gateway: Gateway, endpoint_status: str, since: int = 0) -> dict[str, Any] | None:
    """Probe, then the first 'readiness changed' line after `since` that names `endpoint_status` (each worker logs
    its own changes): details live in the log only."""
    _ready(gateway)
    return next((line for line in _changes(gateway)[since:] if line["endpoint_status"] == endpoint_status), None)


def test_readiness_follows_the_endpoint(gateway: Gateway, moto: IsolatedMotoServer, sm: Any) -> None:
    # Before the first model: up, so that `cdk deploy` of the gateway can finish.
    absent = _answer_once_settled(gateway, "awaiting_endpoint")
    assert (absent.status_code, absent.json()) == (200, {"status": "awaiting_endpoint"})
    assert wait_until(lambda: _readiness_logged(gateway, "NotFound"), "the bootstrap state in the log")

    _create_config(sm, "config-v1")
    sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName="config-v1")
    assert _answer_once_settled(gateway, "ready").status_code == 200

    # A deployment in progress keeps serving: the gateway must stay ready through it.
    _create_config(sm, "config-v2")
    moto.plan_endpoint_update(ENDPOINT, "succeed", polls=10_000)
    since = len(_changes(gateway))
    sm.update_endpoint(EndpointName=ENDPOINT, EndpointConfigName="config-v2")
    wait_until(lambda: _readiness_logged(gateway, "Updating", since), "the update to be seen")
    assert _ready(gateway).json() == {"status": "ready"}

    since = len(_changes(gateway))
    sm.delete_endpoint(EndpointName=ENDPOINT)
    wait_until(lambda: _readiness_logged(gateway, "NotFound", since), "the deletion to be seen")
    gone = _answer_once_settled(gateway, "awaiting_endpoint")
    assert (gone.status_code, gone.json()) == (200, {"status": "awaiting_endpoint"})
    assert httpx.get(f"{gateway.url}/health/live", timeout=10).json() == {"status": "live"}


def test_a_failed_endpoint_is_not_ready_without_saying_why_to_the_caller(
    gateway: Gateway, moto: IsolatedMotoServer, sm: Any
) -> None:
    """FailureReason names roles and S3 URIs: the operator reads it in the log, the caller sees a state."""
    _answer_once_settled(gateway, "awaiting_endpoint")  # a change from the bootstrap state is logged, even on a rerun
    _create_config(sm, "config-v3")
    since = len(_changes(gateway))
    sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName="config-v3")
    moto.fail_endpoint(
        ENDPOINT, "CannotStartContainerError: arn:aws:iam::123456789012:role/secret-role s3://bucket/model"
    )
    failed = wait_until(lambda: _readiness_logged(gateway, "Failed", since), "the failure in the log")
    answer = _answer_once_settled(gateway, "not_ready")
    assert (answer.status_code, answer.json()) == (503, {"status": "not_ready"})
    assert ENDPOINT not in answer.text and "arn:" not in answer.text
    assert failed["level"] == "WARNING" and failed["detail"]


def test_predictions_answered_by_moto_runtime(peer: Gateway, moto: IsolatedMotoServer, sm: Any) -> None:
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
