"""Running the gateway as the container does (`python -m gateway` in `serving/`) and reading what it writes.

The gateway tests serve environment `dev` of project `demo` (the configuration the caller gives under that name):
endpoint, tables, buckets and secret carry the names its templates give them, so that every AWS call a gateway makes
is decided against the synthesized task role (`GatewayPolicies`).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from safedeploy.naming import Naming
from safedeploy.parameters import Param
from serving.gateway.settings import Settings
from testbed import iam_enforcement, iam_world
from testbed.aws import REGION, MotoServer
from testbed.evidence import ensure_bucket
from testbed.gateway_tables import create_gateway_tables, issue_test_key
from testbed.iam_eval import PolicyWorld

ROOT = Path(__file__).resolve().parents[1]
NAMING = Naming("demo", "dev")
ENDPOINT = NAMING.endpoint
SECRET = "integration-test-signing-key-for-prediction-ids"
# ECS injects the task's secret under this name (stacks/serving/gateway_task.py).
SECRET_VARIABLE = "PREDICTION_ID_SECRET"
STUB_VARIANTS = ("v1", "v2")
# The read timeouts a gateway task runs with (serving/gateway/settings.py), for the rehearsal's gateways: the 1 s of
# `gateway_environment` lets the gateway's tests play slow clients quickly, but a loaded machine delays a read that
# long (one 408 among 300 requests of a rehearsal minute, in a 30-run loop).
TASK_READ_TIMEOUTS = {
    "HEADER_READ_TIMEOUT_SECONDS": str(Settings.header_read_timeout_seconds),
    "BODY_READ_TIMEOUT_SECONDS": str(Settings.body_read_timeout_seconds),
}
# A gateway's environment given the runtime URL it calls and overrides (conftest's `gateway_env`).
GatewayEnv = Callable[..., dict[str, str]]
START_TIMEOUT = 90.0  # two workers importing boto3 on a loaded 2-core machine
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


@dataclass(frozen=True)
class GatewayAccess:
    """The moto tables a gateway authenticates against and records feedback in, and keys issued there."""

    keys_table: str
    feedback_table: str
    api_key: str  # predict and feedback
    predict_only_key: str


@dataclass
class Gateway:
    url: str
    log: Path
    process: subprocess.Popen[bytes]
    api_key: str | None = None

    def client(self, api_key: str | None = None, authenticated: bool = True) -> httpx.Client:
        """A client that sends the gateway's API key (or `api_key`), or none when not `authenticated`."""
        key = api_key or self.api_key
        headers = {"X-Api-Key": key} if authenticated and key else {}
        return httpx.Client(base_url=self.url, timeout=10, headers=headers)

    def lines(self) -> list[str]:
        """The complete lines of the gateway's output: the last one may still be being written (a loop of 30 runs
        read half an EMF document once and failed on its JSON)."""
        text = self.log.read_text()
        return text[: text.rfind("\n") + 1].splitlines()

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


@dataclass(frozen=True)
class GatewayPolicies:
    """The environment's synthesized IAM with the resources provisioned in moto bound in, written where gateway
    subprocesses read it, and the roles ECS gives a gateway task."""

    world: PolicyWorld
    file: Path
    artifacts_bucket: str
    drift_bucket: str
    secret_arn: str

    @property
    def task_role(self) -> str:
        return iam_world.gateway_task_role(self.world, NAMING)

    @property
    def execution_role(self) -> str:
        return self.world.role(execution_family=NAMING.resource("gateway")).arn

    def acting_as_task_role(self) -> dict[str, str]:
        """Variables that make a gateway subprocess's every AWS call the task role's, decided against the templates."""
        return iam_enforcement.subprocess_environment(self.task_role, self.file)

    def injected_secret(self, moto: MotoServer) -> str:
        """The signing key as ECS injects it at task start: read from Secrets Manager as the execution role."""
        secrets, directory = moto.client("secretsmanager"), self.file.parent / "ecs"
        directory.mkdir(exist_ok=True)  # not the running gateways' policy file
        with iam_enforcement.policies_in_force([self.world], directory), iam_enforcement.acting_as(self.execution_role):
            return str(secrets.get_secret_value(SecretId=self.secret_arn)["SecretString"])


def gateway_policies(moto: MotoServer, directory: Path, context: Mapping[str, Any]) -> GatewayPolicies:
    """What the storage and serving stacks leave for the gateway (buckets, key, model package group, the signing
    key's secret), created in moto and bound into the templates synthesized from `context` (a cdk.json context; its
    project is replaced by `demo`); buckets and group already there (a server shared with other tests) are used as
    they are."""
    s3, kms, sm = moto.client("s3"), moto.client("kms"), moto.client("sagemaker")
    key_arn = kms.create_key(Description=NAMING.prefix)["KeyMetadata"]["Arn"]
    artifacts, drift = NAMING.resource("artifacts"), NAMING.resource("drift-work")
    for bucket in (artifacts, drift):
        ensure_bucket(s3, bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    if not sm.list_model_package_groups(NameContains=NAMING.model_package_group)["ModelPackageGroupSummaryList"]:
        sm.create_model_package_group(ModelPackageGroupName=NAMING.model_package_group)
    # CloudFormation names the secret itself (bound by ARN below): a name of this session's own.
    secret = moto.client("secretsmanager").create_secret(
        Name=f"{NAMING.resource('prediction-id-secret')}-{uuid.uuid4().hex[:8]}", SecretString=SECRET, KmsKeyId=key_arn
    )["ARN"]
    world = iam_world.policy_world(
        {**context, "project": NAMING.project},
        REGION,
        {
            NAMING.parameter(Param.ARTIFACTS_BUCKET): artifacts,
            NAMING.parameter(Param.DRIFT_BUCKET): drift,
            NAMING.parameter(Param.KMS_KEY_ARN): key_arn,
        },
    )
    world.bind({world.task_secret(NAMING.resource("gateway"), SECRET_VARIABLE): secret})
    return GatewayPolicies(world, iam_enforcement.write_world([world], directory), artifacts, drift, secret)


def gateway_access(moto: MotoServer) -> GatewayAccess:
    dynamodb = moto.client("dynamodb")
    keys_table, feedback_table = create_gateway_tables(dynamodb, NAMING)
    return GatewayAccess(
        keys_table,
        feedback_table,
        issue_test_key(dynamodb, keys_table, "predict", "feedback"),
        issue_test_key(dynamodb, keys_table, "predict", name="predict-only"),
    )


def gateway_environment(
    moto: MotoServer, runtime_url: str, access: GatewayAccess | None = None, **overrides: str
) -> dict[str, str]:
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
        MAX_BODY_BYTES="8192",
        # Far above the stub's instant answer: at 1.0 s a loaded machine turned one predict in 30 into a timeout. The
        # timeout test runs a gateway of its own with a short one.
        ENDPOINT_TIMEOUT_SECONDS="5.0",
        ENDPOINT_MAX_ATTEMPTS="2",
        RETRY_BACKOFF_SECONDS="0.01",
        RETRY_AFTER_SECONDS="7",
        READY_CACHE_SECONDS="0.1",
        METRICS_FLUSH_SECONDS="0.05",
        FEEDBACK_MAX_AGE_SECONDS="3600",
        HEADER_READ_TIMEOUT_SECONDS="1.0",
        BODY_READ_TIMEOUT_SECONDS="1.0",
        # Far above what any test sends with one key; the rate-limit test runs its own gateway with a low limit.
        RATE_LIMIT_PER_SECOND="10000",
        RATE_LIMIT_BURST="10000",
        # The tables `gateway_access` creates; a gateway starts without them and fails only the calls that need them.
        API_KEYS_TABLE=NAMING.api_keys_table,
        FEEDBACK_TABLE=NAMING.feedback_table,
    )
    if access is not None:
        env.update(API_KEYS_TABLE=access.keys_table, FEEDBACK_TABLE=access.feedback_table)
    env.update(overrides)
    return env


def run_gateway_command(env: Mapping[str, str], timeout: float = START_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Run `python -m gateway` to completion: for configurations that must refuse to start."""
    command = [sys.executable, "-m", "gateway"]
    return subprocess.run(command, env=dict(env), cwd=ROOT / "serving", capture_output=True, text=True, timeout=timeout)


@contextmanager
def running_gateway(env: Mapping[str, str], log: Path, api_key: str | None = None) -> Iterator[Gateway]:
    url = f"http://127.0.0.1:{env['PORT']}"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway"], env=dict(env), cwd=ROOT / "serving", stdout=output, stderr=output
        )
    gateway = Gateway(url, log, process, api_key)
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
