"""Every way a caller can get /predict wrong is a 4xx JSON error that names the problem, and nothing reaches the
endpoint."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from serving.stub_endpoint import StubBehaviour
from testbed.gateway_harness import Gateway

pytestmark = pytest.mark.integration

ROW = [0.5, 1, 0, 1, 0, 0, 1, 1]
JSON = {"Content-Type": "application/json"}
CSV = {"Content-Type": "text/csv"}


@pytest.mark.parametrize(
    ("content", "headers", "status", "code", "says"),
    [
        ('{"instances": [[1, 2]', JSON, 400, "invalid_json", "not valid JSON"),
        ('{"instances": [[NaN, 1, 0, 1, 0, 0, 1, 1]]}', JSON, 400, "invalid_json", "NaN"),
        ('{"rows": [[1, 1, 0, 1, 0, 0, 1, 1]]}', JSON, 422, "invalid_instances", '"instances"'),
        ("[[1, 1, 0, 1, 0, 0, 1, 1]]", JSON, 422, "invalid_instances", '"instances"'),
        ('{"instances": []}', JSON, 422, "invalid_instances", "at least one row"),
        (
            '{"instances": [[1, 2, 3]]}',
            JSON,
            422,
            "invalid_instances",
            "instances[0] has 3 features; the model takes 8",
        ),
        ('{"instances": [[1, 1, 0, 1, 0, 0, 1, "1"]]}', JSON, 422, "invalid_instances", "instances[0][7] must be a"),
        ('{"instances": [[1, 1, 0, 1, 0, 0, 1, true]]}', JSON, 422, "invalid_instances", "got bool"),
        ('{"instances": [[1, 1, 0, 1, 0, 0, 1, 1e999]]}', JSON, 422, "invalid_instances", "finite"),
        ('{"instances": [{"f0": 1}]}', JSON, 422, "invalid_instances", "instances[0] must be a list"),
        (
            '{"instances": [' + ",".join(["[1,1,0,1,0,0,1,1]"] * 11) + "]}",
            JSON,
            422,
            "too_many_instances",
            "at most 10",
        ),
        ("f0,f1,f2,f3,f4,f5,f6,f7\n1,1,0,1,0,0,1,1\n", CSV, 422, "invalid_instances", "without a header row"),
        ("1,1,0,1\n", CSV, 422, "invalid_instances", "row 1 has 4 features"),
        ("1,1,0,1,0,0,1,1\n1,1,0,x,0,0,1,1\n", CSV, 422, "invalid_instances", "row 2, column 4 is not a number"),
        ("1,1,0,1,0,0,1,inf\n", CSV, 422, "invalid_instances", "row 1, column 8 must be a finite number"),
        ("\n\n", CSV, 422, "invalid_instances", "at least one row"),
        (b"\xff\xfe,1\n", CSV, 400, "invalid_csv", "UTF-8"),
        ("<instances/>", {"Content-Type": "application/xml"}, 415, "unsupported_media_type", "application/json"),
        ("1,1,0,1,0,0,1,1", {}, 415, "unsupported_media_type", "(none)"),
        ("x" * 9000, JSON, 413, "payload_too_large", "8192 bytes"),
        # More digits than Python converts to int (4300): once an unhandled ValueError, a 500.
        ('{"instances": [[' + "9" * 4301 + ", 1, 0, 1, 0, 0, 1, 1]]}", JSON, 400, "invalid_json", "too long"),
    ],
)
def test_bad_input_is_a_4xx_that_names_the_problem(
    gateway: Gateway, stub: StubBehaviour, content: str | bytes, headers: dict[str, str], status: int, code: str,
    says: str,
) -> None:  # fmt: skip
    with gateway.client() as client:
        response = client.post("/predict", content=content, headers=headers)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert (error["code"], error["request_id"]) == (code, response.headers["x-request-id"])
    assert says in error["message"]
    assert stub.received == []


def test_an_oversized_chunked_body_is_refused_while_it_streams(gateway: Gateway, stub: StubBehaviour) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"instances": ['
        for _ in range(400):  # about 10.8 KB, above the test gateway's MAX_BODY_BYTES (8192)
            yield b"[0.5, 1, 0, 1, 0, 0, 1, 1],"

    with gateway.client() as client:
        response = client.post("/predict", content=chunks(), headers=JSON)
    assert (response.status_code, response.json()["error"]["code"]) == (413, "payload_too_large")
    assert stub.received == []


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [("GET", "/predict", 405, "method_not_allowed"), ("POST", "/models", 404, "not_found")],
)
def test_unknown_routes_answer_in_the_same_shape(
    gateway: Gateway, method: str, path: str, status: int, code: str
) -> None:
    with gateway.client() as client:
        response = client.request(method, path)
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)


def test_the_worker_survives_every_refusal(gateway: Gateway, stub: StubBehaviour) -> None:
    with gateway.client() as client:
        assert client.get("/health/live").status_code == 200
        assert client.post("/predict", json={"instances": [ROW]}).status_code == 200
    assert gateway.process.poll() is None
