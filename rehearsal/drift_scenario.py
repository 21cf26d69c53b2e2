"""The rehearsal's drift scenario: traffic through the real gateway, served by the live model itself, becomes the
gateway's drift histograms; the hourly drift check judges one stable hour and then one hour whose age feature is
shifted by half a standard deviation. Stable traffic must leave the drift alarm OK, drifted traffic must raise it.

The rehearsal plays time as it does for the canary: each phase's histograms (written in the current hour) are
filed under the hour the phase stands for, and the drift check's Lambda handler runs at that hour's scheduled time.
The alarm is evaluated as CloudWatch would evaluate the stack's (`DriftedColumns` Maximum >= 1 over one period).
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import tempfile
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch

import boto3
import numpy as np

from ml import inference
from ml.data import generate
from rehearsal.world import World
from safedeploy import clock, registry, s3_layout
from safedeploy.drift import store
from safedeploy.guardrails import resource_tags
from safedeploy.lambda_actions.aws_clients import AwsClients
from safedeploy.naming import Function
from serving.stub_endpoint import StubBehaviour, StubReply, running_stub
from testbed import iam_enforcement, iam_world
from testbed.aws import REGION, MotoServer
from testbed.gateway_harness import gateway_environment, running_gateway, wait_until
from testbed.iam_eval import PolicyWorld
from testbed.lambda_fakes import LambdaContext

ROWS_PER_PHASE = 3000
ROWS_PER_REQUEST = 100
SHIFT_SD = 0.5
Say = Callable[[str], None]


@dataclass
class ModelEndpoint(StubBehaviour):
    """The stub endpoint answering with the live model's own scores, as the SageMaker endpoint would."""

    model: Any = None
    variants: tuple[str, ...] = ("AllTraffic",)
    record: bool = False

    def response(self, reply: StubReply, request_body: bytes) -> bytes:
        rows = inference.input_fn(request_body, inference.CSV)
        body, _ = inference.output_fn(inference.predict_fn(rows, self.model), inference.CSV)
        return super().response(StubReply(body=body.encode()), request_body)


@dataclass(frozen=True)
class PhaseResult:
    name: str
    rows: int
    drifted: tuple[str, ...]
    alarm: str


def play(
    server: MotoServer, world: World, say: Say, seed: int = 20261202, iam: PolicyWorld | None = None
) -> dict[str, bool]:
    """Both phases on the environment's live model; the two checks of the rehearsal's report. With `iam`, the
    gateway and the drift check act as their roles in those templates."""
    sm, s3 = server.client("sagemaker"), server.client("s3")
    endpoint = world.naming.endpoint
    model = _live_model(sm, s3, endpoint)
    rng = np.random.default_rng(seed)
    first_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    results = []
    with tempfile.TemporaryDirectory() as work:
        for index, (name, shift) in enumerate((("stable", 0.0), ("drifted", SHIFT_SD))):
            rows = generate(ROWS_PER_PHASE, int(rng.integers(2**31))).features
            rows[:, 0] += shift * rows[:, 0].std()
            hour = first_hour + timedelta(hours=index)
            _serve_through_gateway(server, world, model, rows, hour, Path(work) / f"gateway-{name}.log", iam)
            drifted = _drift_check(server, world, hour + timedelta(hours=1, minutes=5), iam)
            result = PhaseResult(name, _rows_judged(s3, world, hour), drifted, _alarm_state(server, endpoint, hour))
            say(f"  drift {name}: {result.rows} rows judged, drifted {list(drifted) or 'none'}, alarm {result.alarm}")
            results.append(result)
    stable, drifted = results
    return {
        "stable traffic leaves the drift alarm OK": stable.rows == ROWS_PER_PHASE and stable.alarm == "OK",
        "drifted traffic raises the drift alarm": "f0" in drifted.drifted and drifted.alarm == "ALARM",
    }


def _live_model(sm: Any, s3: Any, endpoint: str) -> Any:
    """The live package's model, loaded as the serving container loads it, from the artifact version whose sha256
    the package records (a later version may be an attacker's: the rehearsal plays that attack before)."""
    arn = sm.describe_endpoint(EndpointName=endpoint)["EndpointArn"]
    package = resource_tags.read_tags(sm, arn)[resource_tags.PACKAGE_ARN]
    description = sm.describe_model_package(ModelPackageName=package)
    digest = description["CustomerMetadataProperties"][registry.MODEL_SHA256_PROPERTY].removeprefix("sha256:")
    bucket, key = description["InferenceSpecification"]["Containers"][0]["ModelDataUrl"][5:].split("/", 1)
    versions = s3.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", [])
    bodies = (s3.get_object(Bucket=bucket, Key=key, VersionId=v["VersionId"])["Body"].read() for v in versions)
    body = next(b for b in bodies if hashlib.sha256(b).hexdigest() == digest)
    directory = tempfile.mkdtemp(prefix="drift-model-")
    with tarfile.open(fileobj=io.BytesIO(body)) as archive:
        archive.extractall(directory, filter="data")
    return inference.model_fn(directory)


def _serve_through_gateway(
    server: MotoServer, world: World, model: Any, rows: np.ndarray, hour: datetime, log: Path, iam: PolicyWorld | None
) -> None:
    """`rows` through a gateway of their own (a fresh writer), its histograms then filed under `hour`."""
    prefix = s3_layout.histograms_root(world.naming.endpoint)
    before = set(_keys(server, world, prefix))
    with running_stub(ModelEndpoint(model=model)) as stub_url:
        environment = gateway_environment(
            server,
            stub_url,
            ENDPOINT_NAME=world.naming.endpoint,
            FEATURE_COUNT=str(world.contract.feature_count),
            ALLOW_DEV_SECRET="true",
            ALLOW_UNAUTHENTICATED="true",
            MAX_INSTANCES=str(ROWS_PER_REQUEST),
            MAX_BODY_BYTES="65536",
            DRIFT_BUCKET=world.drift_bucket,
            ARTIFACTS_BUCKET=world.artifacts_bucket,
            DRIFT_REFRESH_SECONDS="0.5",
            **(iam_enforcement.subprocess_environment(iam_world.gateway_task_role(iam, world.naming)) if iam else {}),
        )
        with running_gateway(environment, log) as gateway:
            wait_until(lambda: "drift baseline in use" in log.read_text(), "the gateway to learn the baseline", 60)
            with gateway.client() as client:
                for start in range(0, len(rows), ROWS_PER_REQUEST):
                    answer = client.post(
                        "/predict", json={"instances": rows[start : start + ROWS_PER_REQUEST].tolist()}
                    )
                    answer.raise_for_status()
    s3 = server.client("s3")
    for key in sorted(set(_keys(server, world, prefix)) - before):  # written at shutdown, whatever the real hour
        written_hour, name = key.rsplit("/", 2)[1:]  # a phase that straddles an hour wrote two objects
        target = f"{s3_layout.histogram_prefix(world.naming.endpoint, hour)}{written_hour}-{name}"
        s3.copy_object(Bucket=world.drift_bucket, Key=target, CopySource={"Bucket": world.drift_bucket, "Key": key})
        s3.delete_object(Bucket=world.drift_bucket, Key=key)


def _keys(server: MotoServer, world: World, prefix: str) -> list[str]:
    pages = server.client("s3").get_paginator("list_objects_v2").paginate(Bucket=world.drift_bucket, Prefix=prefix)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def _drift_check(server: MotoServer, world: World, now: datetime, iam: PolicyWorld | None) -> tuple[str, ...]:
    """The drift check's Lambda handler at its scheduled time, configured as the drift stack configures it."""
    from lambdas.drift_check import handler

    drift = world.config.drift
    environment = {
        **server.environment(),
        "AWS_REGION": REGION,
        "ARTIFACTS_BUCKET": world.artifacts_bucket,
        "DRIFT_BUCKET": world.drift_bucket,
        "ENDPOINT_NAME": world.naming.endpoint,
        "DRIFT_ALPHA": str(drift.alpha),
        "DRIFT_PERIOD_LOOKS": str(drift.period_looks),
        "DRIFT_SENSITIVITY": str(drift.sensitivity),
        "DRIFT_ACCURACY_MARGIN": str(drift.accuracy_margin),
        "POWERTOOLS_METRICS_NAMESPACE": "SafeDeploy",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    event = {"source": "aws.events", "detail-type": "Scheduled Event", "time": now.isoformat(), "detail": {}}
    role = iam_world.lambda_role(iam, world.naming, Function.DRIFT_CHECK) if iam else None
    with (
        patch.dict(os.environ, environment),
        patch.object(handler, "clients", AwsClients(session=boto3.session.Session())),
        patch.object(clock, "utc_now", lambda: now),  # the simulated hour is the check's clock
        iam_enforcement.acting_as(role) if role else nullcontext(),
    ):
        outcome = handler.handler(event, LambdaContext(function_name="drift-check"))
    if outcome["status"] != "checked":
        raise RuntimeError(f"the drift check did not run: {outcome['status']}")
    return tuple(outcome["drifted"])


def _rows_judged(s3: Any, world: World, hour: datetime) -> int:
    """Rows of the age column in the newest decision record, which judged `hour`."""
    record = store.latest_record(s3, world.artifacts_bucket, world.naming.endpoint)
    assert record is not None and record["checked_at"] == hour.isoformat(), record
    return next(column["rows"] for column in record["columns"] if column["name"] == "f0")


def _alarm_state(server: MotoServer, endpoint: str, hour: datetime) -> str:
    """The drift alarm over the period of the check of `hour`: ALARM when DriftedColumns reached 1."""
    points = server.client("cloudwatch").get_metric_statistics(
        Namespace=store.DRIFT_NAMESPACE,
        MetricName=store.DRIFTED_METRIC,
        Dimensions=[{"Name": "EndpointName", "Value": endpoint}],
        StartTime=hour + timedelta(hours=1),
        EndTime=hour + timedelta(hours=2),
        Period=3600,
        Statistics=["Maximum"],
    )["Datapoints"]
    return "ALARM" if any(point["Maximum"] >= 1 for point in points) else "OK"
