"""/feedback over HTTP: ground truth lands on the variant that served, whichever task receives it."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from serving.gateway.prediction_id import PredictionClaims, PredictionIdSigner
from serving.stub_endpoint import StubBehaviour
from testbed.gateway_harness import SECRET, Gateway

pytestmark = pytest.mark.integration

ROW = [0.9, 1, 0, 1, 0, 0, 1, 1]


def _predict(gateway: Gateway, first_feature: float) -> dict[str, Any]:
    with gateway.client() as client:
        response = client.post("/predict", json={"instances": [[first_feature, *ROW[1:]]]})
    assert response.status_code == 200, response.text
    body = response.json()
    return {"variant": body["variant"], **body["predictions"][0]}


def _feedback(gateway: Gateway, body: Any) -> httpx.Response:
    with gateway.client() as client:
        return client.post("/feedback", json=body)


def test_feedback_on_another_task_is_credited_to_the_serving_variant(
    gateway: Gateway, peer: Gateway, stub: StubBehaviour
) -> None:
    right = _predict(gateway, 0.9)  # v1 predicts 1
    wrong = _predict(gateway, 0.1)  # v2 predicts 0
    before = peer.totals()

    answers = [_feedback(peer, {"prediction_id": right["prediction_id"], "label": 1}),
               _feedback(peer, {"prediction_id": wrong["prediction_id"], "label": 1})]  # fmt: skip

    assert [(a.status_code, a.json()["variant"], a.json()["correct"]) for a in answers] == [
        (200, "v1", True),
        (200, "v2", False),
    ]
    v1_before, v2_before = before.get("v1", {}), before.get("v2", {})
    v1 = peer.wait_for_totals("v1", FeedbackReceived=v1_before.get("FeedbackReceived", 0) + 1)
    v2 = peer.wait_for_totals("v2", FeedbackReceived=v2_before.get("FeedbackReceived", 0) + 1)
    assert v1["FeedbackCorrect"] - v1_before.get("FeedbackCorrect", 0) == 1
    assert v2["FeedbackCorrect"] - v2_before.get("FeedbackCorrect", 0) == 0


def test_a_tampered_prediction_id_is_refused(gateway: Gateway, stub: StubBehaviour) -> None:
    prediction_id = _predict(gateway, 0.9)["prediction_id"]
    version, claims, signature = prediction_id.split(".")
    # Another label under the original signature: exactly what a caller would forge to flatter a variant.
    forged_claims = PredictionIdSigner(b"x" * 32, 60).issue(PredictionClaims("v1", 0, int(time.time()))).split(".")[1]
    # One character of the signature changed, whatever it was (a fixed "AA" ending equalled the real one 1 time in
    # 1024: the test failed once in a 30-run loop).
    altered = f"{version}.{claims}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"
    for tampered in (f"{version}.{forged_claims}.{signature}", altered, "not-an-id", "p1.é.x"):
        response = _feedback(gateway, {"prediction_id": tampered, "label": 1})
        assert response.status_code == 422, tampered
        assert response.json()["error"]["code"] == "invalid_prediction_id"


def test_an_id_signed_with_another_key_is_refused(gateway: Gateway) -> None:
    foreign = PredictionIdSigner(b"another-environment-key-0123456789", 3600)
    prediction_id = foreign.issue(PredictionClaims("v1", 1, int(time.time())))
    response = _feedback(gateway, {"prediction_id": prediction_id, "label": 1})
    assert (response.status_code, response.json()["error"]["code"]) == (422, "invalid_prediction_id")


def test_stale_feedback_is_refused(gateway: Gateway) -> None:
    two_hours_ago = int(time.time()) - 7200  # the gateway accepts feedback for an hour (FEEDBACK_MAX_AGE_SECONDS)
    prediction_id = PredictionIdSigner(SECRET.encode(), 10**9).issue(PredictionClaims("v1", 1, two_hours_ago))
    response = _feedback(gateway, {"prediction_id": prediction_id, "label": 1})
    assert (response.status_code, response.json()["error"]["code"]) == (422, "prediction_id_expired")


@pytest.mark.parametrize(
    "body",
    [
        {"label": 1},
        {"prediction_id": "", "label": 1},
        {"prediction_id": 12, "label": 1},
        {"prediction_id": "p1.a.b"},
        {"prediction_id": "p1.a.b", "label": 2},
        {"prediction_id": "p1.a.b", "label": True},
        {"prediction_id": "p1.a.b", "label": "1"},
        ["p1.a.b", 1],
    ],
)
def test_a_malformed_feedback_body_says_what_is_missing(gateway: Gateway, body: Any) -> None:
    response = _feedback(gateway, body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_feedback"
    assert "prediction_id" in error["message"] or "label" in error["message"]


def test_feedback_must_be_json(gateway: Gateway) -> None:
    with gateway.client() as client:
        response = client.post("/feedback", content="id,1", headers={"Content-Type": "text/csv"})
    assert (response.status_code, response.json()["error"]["code"]) == (415, "unsupported_media_type")
