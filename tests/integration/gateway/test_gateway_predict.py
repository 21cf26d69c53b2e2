"""/predict over HTTP: what the caller gets back, what the endpoint receives, and what the gateway writes to stdout."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from serving.stub_endpoint import ReceivedRequest, StubBehaviour
from testbed.aws import FAKE_CREDENTIALS, REGION
from testbed.gateway_harness import ENDPOINT, Gateway, wait_until

pytestmark = pytest.mark.integration

ROW = [0.9, 1, 0, 1, 0, 0, 1, 1]
SIGNATURE = re.compile(r"SignedHeaders=([^,]+), Signature=([0-9a-f]+)$")


def _signature_matches(request: ReceivedRequest, stub_url: str) -> bool:
    """Recompute the request's SigV4 signature with botocore from what actually arrived on the wire."""
    match = SIGNATURE.search(request.headers["authorization"])
    assert match, request.headers["authorization"]
    signed_names, signature = match.group(1).split(";"), match.group(2)
    arrived = AWSRequest(
        method=request.method,
        url=f"{stub_url}{request.path}",
        data=request.body,
        headers={name: request.headers[name] for name in signed_names},
    )
    arrived.context["timestamp"] = request.headers["x-amz-date"]
    credentials = Credentials(
        FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
    )
    signer = SigV4Auth(credentials, "sagemaker", REGION)
    expected = signer.signature(signer.string_to_sign(arrived, signer.canonical_request(arrived)), arrived)
    return expected == signature


def test_json_instances_get_scores_labels_ids_and_the_serving_variant(gateway: Gateway, stub: StubBehaviour) -> None:
    with gateway.client() as client:
        response = client.post("/predict", json={"instances": [ROW, [0.2, *ROW[1:]], [0.5, *ROW[1:]]]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [(p["score"], p["label"]) for p in body["predictions"]] == [(0.9, 1), (0.2, 0), (0.5, 1)]
    assert (body["variant"], body["model_version"]) == ("v1", 1)
    assert len({p["prediction_id"] for p in body["predictions"]}) == 3
    assert body["request_id"] == response.headers["x-request-id"]


def test_csv_rows_are_accepted_and_a_caller_request_id_is_kept(gateway: Gateway, stub: StubBehaviour) -> None:
    with gateway.client() as client:
        response = client.post(
            "/predict",
            content="0.1,1,0,1,0,0,1,1\r\n0.8,1,0,1,0,0,1,1\n\n",
            headers={"Content-Type": "text/csv; charset=utf-8", "X-Request-Id": "caller-id-42"},
        )
    assert response.status_code == 200, response.text
    assert [p["label"] for p in response.json()["predictions"]] == [0, 1]
    assert response.headers["x-request-id"] == response.json()["request_id"] == "caller-id-42"


def test_the_endpoint_is_called_with_signed_csv(gateway: Gateway, stub: StubBehaviour, stub_url: str) -> None:
    with gateway.client() as client:
        client.post("/predict", json={"instances": [ROW, [1e-7, 2.5, -3, 0, 0, 0, 0, 12345678901]]})
    (request,) = stub.received
    assert (request.method, request.path) == ("POST", f"/endpoints/{ENDPOINT}/invocations")
    assert (request.headers["content-type"], request.headers["accept"]) == ("text/csv", "text/csv")
    assert request.body == b"0.9,1.0,0.0,1.0,0.0,0.0,1.0,1.0\n1e-07,2.5,-3.0,0.0,0.0,0.0,0.0,12345678901.0\n"
    assert request.headers["x-amz-security-token"] == FAKE_CREDENTIALS["AWS_SESSION_TOKEN"]
    assert _signature_matches(request, stub_url)


def test_each_variant_is_attributed_and_counted_apart(gateway: Gateway, stub: StubBehaviour) -> None:
    before = gateway.totals()
    with gateway.client() as client:
        variants = [client.post("/predict", json={"instances": [ROW, ROW]}).json()["variant"] for _ in range(6)]
    assert variants == ["v1", "v2"] * 3
    for variant in ("v1", "v2"):
        expected = before.get(variant, {}).get("Predictions", 0) + 6
        totals = gateway.wait_for_totals(variant, Predictions=expected)
        assert totals["PredictLatency"] >= 3


def test_metrics_are_embedded_metric_format_per_variant(gateway: Gateway, stub: StubBehaviour) -> None:
    before = gateway.totals().get("v1", {}).get("Predictions", 0)
    with gateway.client() as client:
        client.post("/predict", json={"instances": [ROW]})
    gateway.wait_for_totals("v1", Predictions=before + 1)
    # The newest document with this prediction: the log also holds other tests' error- or feedback-only documents.
    document = next(doc for doc in reversed(gateway.emf()) if doc["VariantName"] == "v1" and "PredictLatency" in doc)
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "SafeDeploy/Gateway"
    assert directive["Dimensions"] == [["EndpointName", "VariantName"]]
    assert document["EndpointName"] == ENDPOINT
    units = {metric["Name"]: metric["Unit"] for metric in directive["Metrics"]}
    assert units["PredictLatency"] == "Milliseconds"
    assert {units[name] for name in ("Predictions", "PredictErrors", "FeedbackReceived", "FeedbackCorrect")} == {
        "Count"
    }
    assert all(name in document for name in units)


def test_logs_are_json_with_request_ids_and_no_payload(gateway: Gateway, stub: StubBehaviour) -> None:
    marker = 0.123456789
    with gateway.client() as client:
        response = client.post("/predict", json={"instances": [[marker, *ROW[1:]]]})
    request_id = response.headers["x-request-id"]

    def access_lines() -> list[dict[str, Any]]:
        """The access line is written once the answer is sent, so it may land after the client has read it."""
        entries = [json.loads(line) for line in gateway.lines()]  # every line is JSON, or this raises
        return [entry for entry in entries if entry.get("request_id") == request_id and entry.get("path") == "/predict"]

    access = wait_until(access_lines, "the request's access line")
    assert access[0]["status"] == 200 and access[0]["variant"] in ("v1", "v2")
    assert str(marker) not in "\n".join(gateway.lines())
