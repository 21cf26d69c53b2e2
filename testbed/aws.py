"""Fake AWS for tests: moto in-process, or a ThreadedMotoServer on 127.0.0.1 for subprocesses (in this process or,
for state that must outlive the tests around it, in one of its own), all extended.

Credentials are fake and the region fixed, so nothing here can reach a real account.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.server import ThreadedMotoServer

from testbed import aws_contracts
from testbed.moto_sagemaker import sagemaker_extensions

REGION = "ap-northeast-2"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}
# One session for all tests: it caches the service models (the SageMaker model is large to load).
SESSION = boto3.session.Session(
    aws_access_key_id="testing", aws_secret_access_key="testing", aws_session_token="testing", region_name=REGION
)


@contextmanager
def in_process_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto's in-process AWS with the SageMaker extensions; clients come from `SESSION`."""
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws(), sagemaker_extensions():
        yield


@dataclass(frozen=True)
class MotoServer:
    url: str

    def client(self, service: str) -> Any:
        return SESSION.client(service, endpoint_url=self.url)

    def environment(self) -> dict[str, str]:
        """Variables that point a subprocess's boto3 at this server with fake credentials, its requests checked."""
        return {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": self.url, **aws_contracts.subprocess_environment()}

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.url}/moto-api/reset", data=json.dumps({}).encode(), method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass


@contextmanager
def moto_server() -> Iterator[MotoServer]:
    """A moto server with the extensions on 127.0.0.1 and a free port, in a thread of this process."""
    with sagemaker_extensions():
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield MotoServer(f"http://{host}:{port}")
        finally:
            server.stop()


@dataclass(frozen=True)
class IsolatedMotoServer(MotoServer):
    """A moto server in a process of its own (`testbed.moto_process`): no `mock_aws` or reset of the pytest worker
    empties it. Its in-process backend is reached through the control address."""

    control_url: str

    def plan_endpoint_update(self, endpoint: str, outcome: str = "succeed", polls: int = 2) -> None:
        self._control("plan-update", endpoint=endpoint, outcome=outcome, polls=polls)

    def fail_endpoint(self, endpoint: str, reason: str) -> None:
        """The endpoint turns Failed with `reason`, as SageMaker reports a failed creation."""
        self._control("fail-endpoint", endpoint=endpoint, reason=reason)

    def _control(self, name: str, **arguments: object) -> None:
        body = json.dumps(arguments).encode()
        request = urllib.request.Request(f"{self.control_url}/{name}", data=body, method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass


@contextmanager
def isolated_moto_server() -> Iterator[IsolatedMotoServer]:
    """`moto_server()` in a child process, stopped when the block ends (by closing its stdin)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "testbed.moto_process"],
        cwd=Path(__file__).resolve().parents[1],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        started = process.stdout.readline()
        if not started:
            raise RuntimeError(f"the moto process exited with {process.wait()} before serving")
        addresses = json.loads(started)
        yield IsolatedMotoServer(addresses["url"], addresses["control"])
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
