"""When the endpoint fails: bounded retries for what a retry can cure, 503 with Retry-After when it stays down,
502 when the model itself fails, and every failed call counted against the variant that failed."""

from __future__ import annotations

from pathlib import Path

import pytest

from serving.stub_endpoint import StubBehaviour, StubReply
from testbed.aws import MotoServer
from testbed.gateway_harness import Gateway, GatewayAccess, gateway_environment, running_gateway

pytestmark = pytest.mark.integration

ROW = [0.5, 1, 0, 1, 0, 0, 1, 1]
UNAVAILABLE = StubReply(status=503, error_type="ServiceUnavailable", variant="v2")


def _predict(gateway: Gateway, rows: int = 1) -> tuple[int, dict[str, object], dict[str, str]]:
    with gateway.client() as client:
        response = client.post("/predict", json={"instances": [ROW] * rows})
    return response.status_code, response.json(), dict(response.headers)


def test_a_failure_that_persists_is_a_503_with_retry_after(gateway: Gateway, stub: StubBehaviour) -> None:
    errors_before = gateway.totals().get("v2", {}).get("PredictErrors", 0)
    stub.scripted.extend([UNAVAILABLE, UNAVAILABLE])
    status, body, headers = _predict(gateway)
    assert (status, body["error"]["code"], headers["retry-after"]) == (503, "endpoint_unavailable", "7")
    assert "2 attempts" in body["error"]["message"]
    assert len(stub.received) == 2
    gateway.wait_for_totals("v2", PredictErrors=errors_before + 2)


@pytest.mark.parametrize(
    "transient",
    [
        UNAVAILABLE,
        StubReply(status=400, error_type="ThrottlingException"),
        StubReply(status=429, error_type="ModelNotReadyException"),
    ],
)
def test_a_transient_failure_is_retried(gateway: Gateway, stub: StubBehaviour, transient: StubReply) -> None:
    stub.scripted.append(transient)
    status, body, _ = _predict(gateway)
    assert status == 200, body
    assert len(stub.received) == 2


def test_a_model_error_is_a_502_and_is_not_retried(gateway: Gateway, stub: StubBehaviour) -> None:
    stub.scripted.append(StubReply(status=424, error_type="ModelError", variant="v2", message="Received server error"))
    status, body, _ = _predict(gateway)
    assert (status, body["error"]["code"]) == (502, "model_error")
    assert len(stub.received) == 1


def test_a_missing_endpoint_is_a_503(gateway: Gateway, stub: StubBehaviour) -> None:
    missing = "Endpoint gateway-it-endpoint of account 123456789012 not found."
    stub.scripted.append(StubReply(status=400, error_type="ValidationError", message=missing))
    status, body, headers = _predict(gateway)
    assert (status, body["error"]["code"], headers["retry-after"]) == (503, "endpoint_unavailable", "7")
    assert "123456789012" not in str(body)  # SageMaker's message names the account: logged, never returned


def test_a_slow_endpoint_times_out_into_a_503(
    moto: MotoServer, access: GatewayAccess, stub_url: str, stub: StubBehaviour, tmp_path: Path
) -> None:
    """A gateway of its own waits 0.2 s per attempt for an endpoint that answers after a minute: however loaded the
    machine, the answer is a timeout (the session's gateway waits seconds, so that its predictions never time out)."""
    env = gateway_environment(moto, stub_url, access, ALLOW_DEV_SECRET="true", ENDPOINT_TIMEOUT_SECONDS="0.2")
    with running_gateway(env, tmp_path / "stdout.log", access.api_key) as impatient:
        silent = StubReply(delay_seconds=60.0)
        stub.scripted.extend([silent, silent])
        status, body, headers = _predict(impatient)
    assert (status, body["error"]["code"], headers["retry-after"]) == (503, "endpoint_timeout", "7")
    assert len(stub.received) == 2


@pytest.mark.parametrize("answer", [b"0.5\n0.6\n", b"not a score\n", b"1.5\n", b""])
def test_an_answer_that_is_not_one_probability_per_row_is_a_502(
    gateway: Gateway, stub: StubBehaviour, answer: bytes
) -> None:
    stub.scripted.append(StubReply(body=answer))
    status, body, _ = _predict(gateway)
    assert (status, body["error"]["code"]) == (502, "bad_model_output")
    assert "for 1 instances" in body["error"]["message"]


def test_the_gateway_serves_again_once_the_endpoint_recovers(gateway: Gateway, stub: StubBehaviour) -> None:
    stub.scripted.extend([UNAVAILABLE, UNAVAILABLE])
    assert _predict(gateway)[0] == 503
    status, body, _ = _predict(gateway, rows=2)
    assert status == 200 and len(body["predictions"]) == 2
    assert gateway.process.poll() is None
