"""The abuse cases found by probing the gateway on 127.0.0.1, each of which once succeeded.

Anonymous callers were served, one prediction id's feedback was counted 500 times, one client was never limited,
oversized numbers answered 500, slow headers held connections open and disconnects were logged as crashes. Later:
slow bodies held connections open for good, a 1 MiB header or 10,000 headers were served, and every well-formed
unknown key cost a DynamoDB read.
"""

from __future__ import annotations

import base64
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from safedeploy.operations.api_keys import revoke_key
from serving.stub_endpoint import StubBehaviour
from testbed.aws import MotoServer
from testbed.gateway_harness import Gateway, GatewayAccess, GatewayEnv, running_gateway, wait_until
from testbed.gateway_tables import issue_test_key

pytestmark = pytest.mark.integration

ROW = [0.9, 1, 0, 1, 0, 0, 1, 1]


def _predict(client: httpx.Client) -> httpx.Response:
    return client.post("/predict", json={"instances": [ROW]})


def _address(gateway: Gateway) -> tuple[str, int]:
    host, port = gateway.url.removeprefix("http://").split(":")
    return host, int(port)


def _error(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def test_an_anonymous_caller_is_refused_before_anything_is_read(gateway: Gateway, stub: StubBehaviour) -> None:
    with gateway.client(authenticated=False) as client:
        response = _predict(client)
    assert _error(response) == (401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("ApiKey")
    assert stub.received == []


@pytest.mark.parametrize(
    "key",
    [
        "not-a-key",
        "sdgw.0123456789abcdef." + "A" * 43,  # well formed, never issued
        "sdgw.0123456789abcdef." + "A" * 42,
    ],
)
def test_a_key_that_was_not_issued_is_refused(gateway: Gateway, stub: StubBehaviour, key: str) -> None:
    with gateway.client(api_key=key) as client:
        assert _error(_predict(client)) == (401, "unauthorized")
    assert stub.received == []


def test_a_key_with_another_secret_is_refused(gateway: Gateway, access: GatewayAccess, stub: StubBehaviour) -> None:
    prefix, key_id, secret = access.api_key.split(".")
    forged = f"{prefix}.{key_id}.{'B' if secret[0] != 'B' else 'C'}{secret[1:]}"
    with gateway.client(api_key=forged) as client:
        assert _error(_predict(client)) == (401, "unauthorized")


def test_an_issued_key_predicts(gateway: Gateway, stub: StubBehaviour) -> None:
    with gateway.client() as client:
        assert _predict(client).status_code == 200


def test_a_revoked_key_is_refused_once_the_cache_expires(
    moto: MotoServer,
    access: GatewayAccess,
    gateway_env: GatewayEnv,
    stub_url: str,
    tmp_path: Path,
    stub: StubBehaviour,
) -> None:
    dynamodb = moto.client("dynamodb")
    key = issue_test_key(dynamodb, access.keys_table, "predict", name="revoked-later")
    env = gateway_env(stub_url, ALLOW_DEV_SECRET="true", API_KEY_CACHE_SECONDS="0.2")
    with running_gateway(env, tmp_path / "stdout.log", key) as gateway, gateway.client() as client:
        assert _predict(client).status_code == 200
        revoke_key(dynamodb, access.keys_table, key.split(".")[1])
        refused = wait_until(lambda: _predict(client).status_code == 401, "the revocation to be seen")
    assert refused


def test_feedback_needs_the_feedback_scope(gateway: Gateway, access: GatewayAccess, stub: StubBehaviour) -> None:
    """A caller who only predicts cannot vote on the variant that served it."""
    with gateway.client() as client:
        prediction_id = _predict(client).json()["predictions"][0]["prediction_id"]
    with gateway.client(api_key=access.predict_only_key) as client:
        response = client.post("/feedback", json={"prediction_id": prediction_id, "label": 0})
    assert _error(response) == (403, "forbidden")
    with gateway.client(authenticated=False) as client:
        response = client.post("/feedback", json={"prediction_id": prediction_id, "label": 0})
    assert _error(response) == (401, "unauthorized")


def test_one_prediction_id_counts_once_however_often_it_is_sent(
    gateway: Gateway, peer: Gateway, access: GatewayAccess, moto: MotoServer, stub: StubBehaviour
) -> None:
    """500 identical feedbacks (to two tasks) count once: the rest answer 409 and never reach the metrics."""
    with gateway.client() as client:
        answer = _predict(client).json()
    variant, prediction_id = answer["variant"], answer["predictions"][0]["prediction_id"]
    before = peer.totals().get(variant, {}).get("FeedbackReceived", 0)
    before += gateway.totals().get(variant, {}).get("FeedbackReceived", 0)
    statuses = []
    with gateway.client() as first, peer.client() as second:
        for attempt in range(500):
            client = first if attempt % 2 else second
            statuses.append(client.post("/feedback", json={"prediction_id": prediction_id, "label": 0}).status_code)
    assert statuses.count(200) == 1 and statuses.count(409) == 499

    def counted() -> int:
        return sum(g.totals().get(variant, {}).get("FeedbackReceived", 0) for g in (gateway, peer)) - before

    wait_until(lambda: counted() >= 1, "the accepted feedback's metric")
    time.sleep(0.2)  # two flush periods: any replay counted by mistake would show now
    assert counted() == 1
    item = moto.client("dynamodb").scan(TableName=access.feedback_table)["Items"]
    mine = [row for row in item if row["prediction_key"]["S"] == prediction_id.rsplit(".", 1)[1]]
    assert len(mine) == 1
    (row,) = mine
    assert row["key_id"]["S"] == access.api_key.split(".")[1]
    assert int(row["expires_at"]["N"]) - json_claims(prediction_id)["t"] == 3600  # FEEDBACK_MAX_AGE_SECONDS


def json_claims(prediction_id: str) -> dict[str, Any]:
    encoded = prediction_id.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))


@pytest.fixture
def limited(gateway_env: GatewayEnv, access: GatewayAccess, stub_url: str, tmp_path: Path) -> Iterator[Gateway]:
    env = gateway_env(stub_url, ALLOW_DEV_SECRET="true", RATE_LIMIT_PER_SECOND="2", RATE_LIMIT_BURST="5")
    with running_gateway(env, tmp_path / "stdout.log", access.api_key) as gateway:
        yield gateway


def test_one_caller_is_limited(limited: Gateway, access: GatewayAccess, stub: StubBehaviour) -> None:
    """1,500 requests in 1.8 s from one client were all answered; now the burst passes and the rest wait."""
    with limited.client() as client:
        statuses = [_predict(client).status_code for _ in range(30)]
        refused = _predict(client)
    assert statuses[:5] == [200] * 5
    assert statuses.count(429) >= 20
    assert _error(refused) == (429, "rate_limited") and int(refused.headers["Retry-After"]) >= 1
    with limited.client(api_key=access.predict_only_key) as other:
        assert _predict(other).status_code == 200  # another caller has its own allowance


def test_an_oversized_content_length_is_a_400(gateway: Gateway) -> None:
    with socket.create_connection(_address(gateway), timeout=5) as sock:
        sock.sendall(
            b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Api-Key: "
            + gateway.api_key.encode()  # type: ignore[union-attr]
            + b"\r\nContent-Length: "
            + b"9" * 5000
            + b"\r\n\r\n"
        )
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:100]


def test_slow_headers_are_cut_off(gateway: Gateway) -> None:
    """A connection that never finishes its headers is answered 408 and closed (HEADER_READ_TIMEOUT_SECONDS=1)."""
    with socket.create_connection(_address(gateway), timeout=5) as sock:
        sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        answer = sock.recv(65536)
        elapsed = time.monotonic() - started
        assert sock.recv(65536) == b""  # closed
    assert answer.startswith(b"HTTP/1.1 408")
    assert 0.5 < elapsed < 4


def test_a_silent_connection_is_closed(gateway: Gateway) -> None:
    with socket.create_connection(_address(gateway), timeout=5) as sock:
        assert sock.recv(65536).startswith(b"HTTP/1.1 408")


def test_a_client_that_hangs_up_mid_body_is_logged_as_a_disconnect(gateway: Gateway, stub: StubBehaviour) -> None:
    since = len(gateway.lines())  # the session's gateway: earlier runs of this test logged their own disconnects
    with socket.create_connection(_address(gateway), timeout=5) as sock:
        sock.sendall(
            b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Api-Key: "
            + gateway.api_key.encode()  # type: ignore[union-attr]
            + b"\r\nContent-Length: 1000\r\n\r\n"
            + b'{"instances": ['
        )
        time.sleep(0.2)

    def logged() -> list[dict[str, Any]]:
        lines = [json.loads(line) for line in gateway.lines()[since:]]
        return [line for line in lines if line.get("disconnected")]

    (line,) = wait_until(logged, "the disconnect in the access log")
    assert (line["status"], line["path"], line["level"]) == (499, "/predict", "INFO")
    assert not [entry for entry in gateway.lines() if "unhandled error" in entry]
    assert stub.received == []


def _request_head(gateway: Gateway, content_length: int, api_key: str | None) -> bytes:
    key = f"X-Api-Key: {api_key}\r\n" if api_key else ""
    return (
        f"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{key}"
        f"Content-Length: {content_length}\r\n\r\n"
    ).encode()


def _answer_and_close(sock: socket.socket) -> bytes:
    """Everything the gateway sends until it closes the connection (a socket timeout fails the test)."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def test_a_slow_body_is_cut_off(gateway: Gateway, stub: StubBehaviour) -> None:
    """An authenticated body that never completes is answered 408 and closed (BODY_READ_TIMEOUT_SECONDS=1)."""
    with socket.create_connection(_address(gateway), timeout=5) as sock:
        sock.sendall(_request_head(gateway, 1000, gateway.api_key) + b'{"instances": [')
        answer = _answer_and_close(sock)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
    assert b'"body_timeout"' in answer
    assert stub.received == []


def test_a_refused_caller_cannot_keep_trickling_its_body(gateway: Gateway) -> None:
    """Answered 401 before its body is read, the connection is still closed once the body's time is up."""
    with socket.create_connection(_address(gateway), timeout=5) as sock:
        sock.sendall(_request_head(gateway, 1000, None) + b"{")
        answer = _answer_and_close(sock)
    assert answer.startswith(b"HTTP/1.1 401"), answer[:100]
    assert answer.count(b"HTTP/1.1") == 1


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Padding": "a" * (1024 * 1024)},  # one 1 MiB header
        {f"X-Field-{index}": "1" for index in range(10_000)},
        {f"X-Field-{index}": "b" * 1000 for index in range(17)},  # 17 KiB in fields of 1 KB
    ],
    ids=["one 1 MiB header", "10,000 headers", "17 KiB of headers"],
)
def test_oversized_or_countless_headers_are_refused(gateway: Gateway, headers: dict[str, str]) -> None:
    head = "GET /health/live HTTP/1.1\r\nHost: x\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    with socket.create_connection(_address(gateway), timeout=5) as sock:
        sock.sendall(head.encode() + b"\r\n")  # all of it: the gateway reads and drops the rest after answering
        answer = _answer_and_close(sock)
    assert answer.startswith(b"HTTP/1.1 431"), answer[:100]


def test_headers_within_the_limits_are_served(gateway: Gateway) -> None:
    headers = {f"X-Field-{index}": "c" * 100 for index in range(90)}
    assert httpx.get(f"{gateway.url}/health/live", headers=headers, timeout=10).status_code == 200


def test_unknown_keys_spend_a_lookup_budget_and_issued_keys_are_still_served(
    gateway_env: GatewayEnv, access: GatewayAccess, stub_url: str, tmp_path: Path, stub: StubBehaviour
) -> None:
    """Beyond the budget's burst an unknown key answers 429 without a DynamoDB read; the issued key still predicts."""
    env = gateway_env(
        stub_url,
        ALLOW_DEV_SECRET="true",
        UNKNOWN_KEY_LOOKUPS_PER_SECOND="0.1",
        UNKNOWN_KEY_LOOKUP_BURST="4",
    )
    with running_gateway(env, tmp_path / "stdout.log", access.api_key) as limited, limited.client() as client:
        assert _predict(client).status_code == 200  # one lookup of the budget
        statuses = []
        for index in range(20):
            with limited.client(api_key=f"sdgw.{index:016x}.{'A' * 43}") as stranger:
                statuses.append(_error(_predict(stranger)))
        assert _predict(client).status_code == 200
    assert statuses == [(401, "unauthorized")] * 3 + [(429, "key_lookups_limited")] * 17
