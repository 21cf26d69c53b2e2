"""Load benchmark of the inference gateway against a local stub endpoint with a fixed latency.

Starts the stub (`serving/stub_endpoint.py`, 5 ms per call) and the gateway (`python -m gateway`, 2 workers) as
subprocesses on 127.0.0.1, then drives each at increasing concurrency with keep-alive connections and prints
throughput and latency percentiles. The overhead is the gateway's percentile minus the stub's own percentile at the
same concurrency, measured by calling the stub directly: what putting the gateway in front of the endpoint costs.
Everything shares this machine's cores, the load generator included, so the figures are a floor, not a ceiling.

    .venv/bin/python bench/gateway_load.py [--seconds 5] [--concurrency 1 8 32 64] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
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
ROW = [0.7, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0]
STUB_LATENCY_MS = 5.0
TARGET_CONCURRENCY = 32
TARGET_RPS = 800
TARGET_P99_OVERHEAD_MS = 15.0
START_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class Run:
    concurrency: int
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def _request(port: int, path: str, content_type: str, body: bytes) -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {content_type}\r\n"
    return f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


async def _client(port: int, request: bytes, deadline: float, latencies: list[float], errors: list[int]) -> None:
    """One keep-alive connection sending requests back to back (a closed loop), with a minimal HTTP/1.1 reader
    so that the load generator takes as little of the shared CPU as possible."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            await reader.readexactly(_content_length(head))
            latencies.append((time.perf_counter() - started) * 1000)
            if not head.startswith(b"HTTP/1.1 200"):
                errors.append(1)
    finally:
        writer.close()


async def _drive(port: int, request: bytes, concurrency: int, seconds: float) -> Run:
    latencies: list[float] = []
    errors: list[int] = []
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(_client(port, request, deadline, latencies, errors) for _ in range(concurrency)))
    return Run(concurrency, len(latencies), len(errors), time.perf_counter() - started, latencies)


def drive(port: int, request: bytes, concurrency: int, seconds: float) -> Run:
    asyncio.run(_drive(port, request, concurrency, min(1.0, seconds)))  # warm-up: connections, pools, caches
    return asyncio.run(_drive(port, request, concurrency, seconds))


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


def _gateway_env(stub_port: int, port: int, workers: int) -> dict[str, str]:
    return {
        **os.environ,
        "ENDPOINT_NAME": "bench-endpoint",
        "AWS_REGION": "ap-northeast-2",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": f"http://127.0.0.1:{stub_port}",
        "ALLOW_DEV_SECRET": "true",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WORKERS": str(workers),
        "LOG_LEVEL": "INFO",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    stub_port, gateway_port = _free_port(), _free_port()
    body = json.dumps({"instances": [ROW]}).encode()
    csv_row = ",".join(map(str, ROW)).encode()
    stub_request = _request(stub_port, "/endpoints/bench-endpoint/invocations", "text/csv", csv_row)
    gateway_request = _request(gateway_port, "/predict", "application/json", body)
    stub_command = [sys.executable, "-m", "serving.stub_endpoint", "--port", str(stub_port)]
    stub_command += ["--latency-ms", str(STUB_LATENCY_MS)]
    with (
        tempfile.TemporaryDirectory() as logs,
        _process(stub_command, dict(os.environ), ROOT, Path(logs) / "stub.log"),
        _process(
            [sys.executable, "-m", "gateway"],
            _gateway_env(stub_port, gateway_port, args.workers),
            ROOT / "serving",
            Path(logs) / "gateway.log",
        ),
    ):
        _wait_for(f"http://127.0.0.1:{gateway_port}/health/live")
        print(f"stub latency {STUB_LATENCY_MS} ms, gateway workers {args.workers}, {args.seconds} s per level")
        print(
            f"{'conc':>5} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'stub p50':>9} {'stub p99':>9} "
            f"{'ovh p50':>8} {'ovh p99':>8} {'errors':>7}"
        )
        results = {}
        for concurrency in args.concurrency:
            direct = drive(stub_port, stub_request, concurrency, args.seconds)
            gateway = drive(gateway_port, gateway_request, concurrency, args.seconds)
            results[concurrency] = (gateway, direct)
            print(
                f"{concurrency:>5} {gateway.rps:>8.0f} {gateway.percentile(0.5):>8.2f} "
                f"{gateway.percentile(0.99):>8.2f} {direct.percentile(0.5):>9.2f} {direct.percentile(0.99):>9.2f} "
                f"{gateway.percentile(0.5) - direct.percentile(0.5):>8.2f} "
                f"{gateway.percentile(0.99) - direct.percentile(0.99):>8.2f} {gateway.errors:>7}"
            )
    if TARGET_CONCURRENCY in results:
        gateway, direct = results[TARGET_CONCURRENCY]
        overhead = gateway.percentile(0.99) - direct.percentile(0.99)
        met = gateway.rps >= TARGET_RPS and overhead < TARGET_P99_OVERHEAD_MS
        print(
            f"target at concurrency {TARGET_CONCURRENCY}: >= {TARGET_RPS} req/s and p99 overhead < "
            f"{TARGET_P99_OVERHEAD_MS} ms: {'met' if met else 'NOT met'} ({gateway.rps:.0f} req/s, {overhead:.2f} ms)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
