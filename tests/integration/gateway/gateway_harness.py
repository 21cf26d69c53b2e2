"""Running the gateway as the container does (`python -m gateway` in `serving/`) and reading what it writes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.aws import REGION, MotoServer

ROOT = Path(__file__).resolve().parents[3]
ENDPOINT = "gateway-it-endpoint"
SECRET = "integration-test-signing-key-for-prediction-ids"
STUB_VARIANTS = ("v1", "v2")
START_TIMEOUT = 30.0
WAIT_TIMEOUT = 10.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(condition: Callable[[], Any], what: str, timeout: float = WAIT_TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Gateway:
    url: str
    log: Path
    process: subprocess.Popen[bytes]

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10)

    def lines(self) -> list[str]:
        return self.log.read_text().splitlines()

    def emf(self) -> list[dict[str, Any]]:
        return [document for document in map(json.loads, self.lines()) if "_aws" in document]

    def totals(self) -> dict[str, Counter[str]]:
        """Per variant: the sum of every count metric, and the number of latency samples."""
        totals: dict[str, Counter[str]] = {}
        for document in self.emf():
            counter = totals.setdefault(document["VariantName"], Counter())
            for metric in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
                value = document[metric["Name"]]
                counter[metric["Name"]] += len(value) if isinstance(value, list) else value
        return totals

    def wait_for_totals(self, variant: str, **expected: int) -> Counter[str]:
        def reached() -> Counter[str] | None:
            counter = self.totals().get(variant, Counter())
            return counter if all(counter[name] >= value for name, value in expected.items()) else None

        return wait_until(reached, f"metrics {expected} for variant {variant}")


def gateway_environment(moto: MotoServer, runtime_url: str, **overrides: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "PREDICTION_ID_"))}
    env.update(moto.environment())
    env.update(
        AWS_REGION=REGION,
        AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=runtime_url,
        ENDPOINT_NAME=ENDPOINT,
        HOST="127.0.0.1",
        PORT=str(_free_port()),
        FEATURE_COUNT="8",
        MAX_INSTANCES="10",
        MAX_BODY_BYTES="4096",
        ENDPOINT_TIMEOUT_SECONDS="1.0",
        ENDPOINT_MAX_ATTEMPTS="2",
        RETRY_BACKOFF_SECONDS="0.01",
        RETRY_AFTER_SECONDS="7",
        READY_CACHE_SECONDS="0.1",
        METRICS_FLUSH_SECONDS="0.05",
        FEEDBACK_MAX_AGE_SECONDS="3600",
    )
    env.update(overrides)
    return env


def run_gateway_command(env: Mapping[str, str], timeout: float = START_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Run `python -m gateway` to completion: for configurations that must refuse to start."""
    command = [sys.executable, "-m", "gateway"]
    return subprocess.run(command, env=dict(env), cwd=ROOT / "serving", capture_output=True, text=True, timeout=timeout)


@contextmanager
def running_gateway(env: Mapping[str, str], log: Path) -> Iterator[Gateway]:
    url = f"http://127.0.0.1:{env['PORT']}"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway"], env=dict(env), cwd=ROOT / "serving", stdout=output, stderr=output
        )
    gateway = Gateway(url, log, process)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise AssertionError(f"gateway exited with {process.returncode}:\n{log.read_text()}")
            try:
                if httpx.get(f"{url}/health/live", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"gateway did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield gateway
    finally:
        process.terminate()
        process.wait(timeout=30)
