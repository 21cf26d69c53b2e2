"""Load benchmark of the inference gateway against a local stub endpoint with a fixed latency.

Starts the stub (`serving/stub_endpoint.py`, 5 ms per call), moto (DynamoDB: API keys and feedback) and gateways
(`python -m gateway`) as subprocesses or threads on 127.0.0.1, then prints:

1. throughput and latency percentiles at increasing concurrency, with the API-key check on (every request carries
   `X-Api-Key`, verified against the key's SHA-256 in DynamoDB, cached per worker) and off (ALLOW_UNAUTHENTICATED);
   the overhead is the gateway's percentile minus the stub's own at the same concurrency, measured by calling the
   stub directly: what putting the gateway in front of the endpoint costs;
2. the share of requests refused (429) when one API key sends at twice its limit. This is the gateway's own
   per-key limiter: AWS WAF's per-address rule cannot run here, so the gateway's limiter stands in for it;
3. feedback throughput with the conditional write (one PutItem with `attribute_not_exists` per feedback), and the
   share of replays refused (409), against moto's DynamoDB: the figure is the gateway's cost plus moto's, a floor
   for DynamoDB, which answers a PutItem in single-digit milliseconds;
4. the cost per feedback from the item's size in write request units (on-demand price given by --wru-price).

Everything shares this machine's cores, the load generator and moto included, so the figures are a floor, not a
ceiling. All traffic is loopback and every loop is bounded by time or count.

    .venv/bin/python bench/gateway_load.py [--seconds 5] [--concurrency 1 8 32 64] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the tables and key issuance the tests use

from moto.server import ThreadedMotoServer  # noqa: E402

from safedeploy.naming import Naming  # noqa: E402
from serving.gateway.api_keys import PREDICT, ApiKeyVerifier, key_digest  # noqa: E402
from serving.gateway.rate_limit import RateLimiter  # noqa: E402
from testbed.aws import SESSION  # noqa: E402
from testbed.gateway_tables import create_gateway_tables, issue_test_key  # noqa: E402

ROW = [0.7, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0]
STUB_LATENCY_MS = 5.0
TARGET_CONCURRENCY = 32
TARGET_RPS = 800
TARGET_P99_OVERHEAD_MS = 15.0
START_TIMEOUT_SECONDS = 120  # four processes start at once on a shared machine
LIMITED_RATE = 50  # requests a second per key, one worker: the rate-limit run sends twice that
LIMITED_BURST = 50
FEEDBACK_IDS = 2000
ROWS_PER_PREDICTION = 100
# DynamoDB on-demand, per million write request units (us-east-1 after the November 2024 price change).
DEFAULT_WRU_PRICE = 0.625


@dataclass(frozen=True)
class Run:
    concurrency: int
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    statuses: tuple[int, ...] = ()

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]

    def share(self, status: int) -> float:
        return self.statuses.count(status) / len(self.statuses) if self.statuses else 0.0


def _request(port: int, path: str, content_type: str, body: bytes, api_key: str | None = None) -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {content_type}\r\n"
    if api_key:
        head += f"X-Api-Key: {api_key}\r\n"
    return f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> tuple[int, bytes]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    body = await reader.readexactly(_content_length(head))
    return int(head[9:12]), body


async def _client(
    port: int, requests: Iterator[bytes], deadline: float, latencies: list[float], statuses: list[int]
) -> None:
    """One keep-alive connection sending requests back to back (a closed loop), with a minimal HTTP/1.1 reader
    so that the load generator takes as little of the shared CPU as possible."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for request in requests:
            if time.perf_counter() >= deadline:
                break
            started = time.perf_counter()
            status, _ = await _exchange(reader, writer, request)
            latencies.append((time.perf_counter() - started) * 1000)
            statuses.append(status)
    finally:
        writer.close()


def _repeat(request: bytes) -> Iterator[bytes]:
    while True:
        yield request


async def _drive(port: int, requests: Iterator[bytes], concurrency: int, seconds: float) -> Run:
    latencies: list[float] = []
    statuses: list[int] = []
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(_client(port, requests, deadline, latencies, statuses) for _ in range(concurrency)))
    errors = sum(1 for status in statuses if status != 200)
    return Run(concurrency, len(latencies), errors, time.perf_counter() - started, latencies, tuple(statuses))


def drive(port: int, request: bytes, concurrency: int, seconds: float) -> Run:
    asyncio.run(_drive(port, _repeat(request), concurrency, min(1.0, seconds)))  # warm-up: pools, caches
    return asyncio.run(_drive(port, _repeat(request), concurrency, seconds))


async def _paced(port: int, request: bytes, rate: float, seconds: float, connections: int = 4) -> Run:
    """An open loop: `rate` requests a second spread over a few connections, whatever the answers are."""
    statuses: list[int] = []
    latencies: list[float] = []
    started = time.perf_counter()

    async def sender(offset: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for index in range(int(rate * seconds / connections)):
                due = started + (index * connections + offset) / rate
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                sent = time.perf_counter()
                status, _ = await _exchange(reader, writer, request)
                latencies.append((time.perf_counter() - sent) * 1000)
                statuses.append(status)
        finally:
            writer.close()

    await asyncio.gather(*(sender(offset) for offset in range(connections)))
    return Run(connections, len(statuses), 0, time.perf_counter() - started, latencies, tuple(statuses))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {START_TIMEOUT_SECONDS} s")


@contextmanager
def _process(command: list[str], env: dict[str, str], cwd: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=output, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            process.terminate()
            process.wait(timeout=30)


@contextmanager
def _moto() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def _gateway_env(stub_port: int, port: int, workers: int, moto_url: str, **overrides: str) -> dict[str, str]:
    return {
        **os.environ,
        "ENDPOINT_NAME": "bench-endpoint",
        "AWS_REGION": "ap-northeast-2",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": f"http://127.0.0.1:{stub_port}",
        "ALLOW_DEV_SECRET": "true",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WORKERS": str(workers),
        "LOG_LEVEL": "INFO",
        **overrides,
    }


def feedback_item_bytes(prediction_key: str, variant: str, key_id: str) -> int:
    """DynamoDB's item size: attribute names plus values (strings in UTF-8; numbers about one byte per two digits
    plus one), which sets the write request units of each PutItem, accepted or refused by its condition."""
    numbers = {"predicted": 1, "truth": 0, "received_at": 1_800_000_000, "expires_at": 1_800_604_800}
    strings = {"prediction_key": prediction_key, "variant": variant, "key_id": key_id}
    size = sum(len(name) + len(value.encode()) for name, value in strings.items())
    return size + sum(len(name) + math.ceil(len(str(value)) / 2) + 1 for name, value in numbers.items())


def _print_levels(label: str, results: dict[int, tuple[Run, Run]]) -> None:
    print(f"\n{label}")
    print(
        f"{'conc':>5} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'stub p50':>9} {'stub p99':>9} "
        f"{'ovh p50':>8} {'ovh p99':>8} {'errors':>7}"
    )
    for concurrency, (gateway, direct) in results.items():
        print(
            f"{concurrency:>5} {gateway.rps:>8.0f} {gateway.percentile(0.5):>8.2f} "
            f"{gateway.percentile(0.99):>8.2f} {direct.percentile(0.5):>9.2f} {direct.percentile(0.99):>9.2f} "
            f"{gateway.percentile(0.5) - direct.percentile(0.5):>8.2f} "
            f"{gateway.percentile(0.99) - direct.percentile(0.99):>8.2f} {gateway.errors:>7}"
        )


def _feedback_requests(port: int, api_key: str, ids: list[str]) -> Iterator[bytes]:
    for prediction_id in ids:
        body = json.dumps({"prediction_id": prediction_id, "label": 1}).encode()
        yield _request(port, "/feedback", "application/json", body, api_key)


def _prediction_ids(port: int, api_key: str, count: int) -> list[str]:
    body = json.dumps({"instances": [ROW] * ROWS_PER_PREDICTION}).encode()
    ids: list[str] = []

    async def collect() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while len(ids) < count:
                status, answer = await _exchange(
                    reader, writer, _request(port, "/predict", "application/json", body, api_key)
                )
                if status != 200:
                    raise RuntimeError(f"/predict answered {status}: {answer[:200]!r}")
                ids.extend(p["prediction_id"] for p in json.loads(answer)["predictions"])
        finally:
            writer.close()

    asyncio.run(collect())
    return ids[:count]


def auth_path_microseconds(api_key: str, calls: int = 20_000) -> float:
    """CPU time of the authentication path per request once the key is cached (key check, digest, limiter): a
    figure the shared machine's load distorts far less than end-to-end latency."""
    limiter = RateLimiter(rate=1e9, burst=10**9)
    verifier = ApiKeyVerifier(
        lambda key_id: {"secret_sha256": key_digest(api_key), "scopes": ["predict"], "status": "active"}, 3600, limiter
    )

    async def run() -> float:
        await verifier.authenticate(api_key, PREDICT)  # fills the cache
        started = time.process_time()
        for _ in range(calls):
            caller = await verifier.authenticate(api_key, PREDICT)
            limiter.take(caller.key_id)
        return (time.process_time() - started) / calls * 1e6

    return asyncio.run(run())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--wru-price", type=float, default=DEFAULT_WRU_PRICE, help="USD per million WRU")
    args = parser.parse_args()

    stub_port, open_port, auth_port, limited_port = (_free_port() for _ in range(4))
    body = json.dumps({"instances": [ROW]}).encode()
    csv_row = ",".join(map(str, ROW)).encode()
    stub_request = _request(stub_port, "/endpoints/bench-endpoint/invocations", "text/csv", csv_row)
    stub_command = [sys.executable, "-m", "serving.stub_endpoint", "--port", str(stub_port)]
    stub_command += ["--latency-ms", str(STUB_LATENCY_MS)]
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server would log every request
    with tempfile.TemporaryDirectory() as logs, _moto() as moto_url:
        dynamodb = SESSION.client("dynamodb", endpoint_url=moto_url)
        keys_table, feedback_table = create_gateway_tables(dynamodb, Naming("bench", "load"))
        api_key = issue_test_key(dynamodb, keys_table, "predict", "feedback", name="bench")
        tables = {"API_KEYS_TABLE": keys_table, "FEEDBACK_TABLE": feedback_table}
        # The throughput runs must measure the gateway, not its limiter (the rate-limit run has its own gateway).
        unlimited = {"RATE_LIMIT_PER_SECOND": "100000", "RATE_LIMIT_BURST": "100000"}
        gateways = {
            "open": (
                open_port,
                _gateway_env(stub_port, open_port, args.workers, moto_url, ALLOW_UNAUTHENTICATED="true", **unlimited),
            ),
            "auth": (
                auth_port,
                _gateway_env(
                    stub_port,
                    auth_port,
                    args.workers,
                    moto_url,
                    **unlimited,
                    **tables,
                ),
            ),
            "limited": (
                limited_port,
                _gateway_env(
                    stub_port,
                    limited_port,
                    1,
                    moto_url,
                    RATE_LIMIT_PER_SECOND=str(LIMITED_RATE),
                    RATE_LIMIT_BURST=str(LIMITED_BURST),
                    **tables,
                ),
            ),
        }
        with (
            _process(stub_command, dict(os.environ), ROOT, Path(logs) / "stub.log"),
            _process([sys.executable, "-m", "gateway"], gateways["open"][1], ROOT / "serving", Path(logs) / "open.log"),
            _process([sys.executable, "-m", "gateway"], gateways["auth"][1], ROOT / "serving", Path(logs) / "auth.log"),
            _process(
                [sys.executable, "-m", "gateway"], gateways["limited"][1], ROOT / "serving", Path(logs) / "limited.log"
            ),
        ):
            for port, _ in gateways.values():
                _wait_for(f"http://127.0.0.1:{port}/health/live")
            print(f"stub latency {STUB_LATENCY_MS} ms, gateway workers {args.workers}, {args.seconds} s per level")
            results: dict[str, dict[int, tuple[Run, Run]]] = {"open": {}, "auth": {}}
            for concurrency in args.concurrency:
                direct = drive(stub_port, stub_request, concurrency, args.seconds)
                results["open"][concurrency] = (
                    drive(
                        open_port, _request(open_port, "/predict", "application/json", body), concurrency, args.seconds
                    ),
                    direct,
                )
                results["auth"][concurrency] = (
                    drive(
                        auth_port,
                        _request(auth_port, "/predict", "application/json", body, api_key),
                        concurrency,
                        args.seconds,
                    ),
                    direct,
                )
            _print_levels("without API keys (ALLOW_UNAUTHENTICATED)", results["open"])
            _print_levels("with API keys (X-Api-Key checked against DynamoDB, cached per worker)", results["auth"])
            print(
                f"authentication path (cached key, digest check, per-key limiter): "
                f"{auth_path_microseconds(api_key):.1f} us of CPU per request"
            )
            if TARGET_CONCURRENCY in results["auth"]:
                gateway, direct = results["auth"][TARGET_CONCURRENCY]
                overhead = gateway.percentile(0.99) - direct.percentile(0.99)
                met = gateway.rps >= TARGET_RPS and overhead < TARGET_P99_OVERHEAD_MS
                print(
                    f"target at concurrency {TARGET_CONCURRENCY} with API keys: >= {TARGET_RPS} req/s and p99 overhead "
                    f"< {TARGET_P99_OVERHEAD_MS} ms: {'met' if met else 'NOT met'} ({gateway.rps:.0f} req/s, "
                    f"{overhead:.2f} ms)"
                )

            rate = 2 * LIMITED_RATE
            paced = asyncio.run(
                _paced(
                    limited_port,
                    _request(limited_port, "/predict", "application/json", body, api_key),
                    rate,
                    args.seconds,
                )
            )
            expected = max(0.0, 1 - (LIMITED_RATE * args.seconds + LIMITED_BURST) / (rate * args.seconds))
            print(
                f"\nrate limit: one key at {rate} req/s for {args.seconds:g} s against {LIMITED_RATE}/s (burst "
                f"{LIMITED_BURST}, 1 worker): {paced.share(429):.1%} refused 429 (token bucket predicts "
                f"{expected:.1%}), {paced.share(200):.1%} served"
            )

            ids = _prediction_ids(auth_port, api_key, FEEDBACK_IDS)
            replays = ids[: FEEDBACK_IDS // 4]
            # Two phases, so that each answer is known to be a first send or a replay.
            feedback = asyncio.run(_drive(auth_port, _feedback_requests(auth_port, api_key, ids), 16, 300.0))
            again = asyncio.run(_drive(auth_port, _feedback_requests(auth_port, api_key, replays), 16, 300.0))
            print(
                f"\nfeedback, conditional write (moto DynamoDB, concurrency 16): {feedback.rps:.0f} feedback/s, "
                f"p50 {feedback.percentile(0.5):.2f} ms, p99 {feedback.percentile(0.99):.2f} ms; "
                f"{feedback.statuses.count(200)}/{len(ids)} first sends accepted, "
                f"{again.statuses.count(409)}/{len(replays)} replays refused 409 ({again.rps:.0f}/s)"
                + (f" (other answers: {sorted(others)})" if (others := set(feedback.statuses) - {200}) else "")
            )
            stored = dynamodb.scan(TableName=feedback_table, Select="COUNT")["Count"]
            sample_key = ids[0].rsplit(".", 1)[1]
            size = feedback_item_bytes(sample_key, "v1", api_key.split(".")[1])
            units = math.ceil(size / 1024)
            print(
                f"cost per feedback: item {size} B = {units} write request unit(s) per PutItem (a refused replay "
                f"costs the same); at ${args.wru_price}/million WRU: ${units * args.wru_price / 1e6:.8f} per "
                f"feedback, ${units * args.wru_price:.3f} per million; {stored} items stored, each kept until its "
                "TTL (the id's lifetime)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
