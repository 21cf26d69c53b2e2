"""The rehearsal's drift scenario: traffic through the real gateway, served by the live model itself, becomes the
gateway's drift histograms; the hourly drift check judges one stable hour and then one hour whose first feature (of
the model's contract) is shifted by half a standard deviation. Stable traffic must leave the drift alarm OK, drifted
traffic must raise it. The rows are the model's own sample data (`model.sample_data`), the distribution it was trained
on in the rehearsal; the answers come from the live artifact's own entry point, as the serving container runs it.

The rehearsal plays time as it does for the canary: each phase's histograms (written in the current hour) are
filed under the hour the phase stands for, and the drift check's Lambda handler runs at that hour's scheduled time.
The alarm is evaluated as CloudWatch would evaluate the stack's (`DriftedColumns` Maximum >= 1 over one period).
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import io
import os
import sys
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

from rehearsal.world import World
from safedeploy import clock, registry, s3_layout
from safedeploy.drift import store
from safedeploy.guardrails import resource_tags
from safedeploy.lambda_actions.aws_clients import AwsClients
from safedeploy.naming import Function
from serving.stub_endpoint import ReceivedRequest, StubBehaviour, StubReply, running_stub
from testbed import iam_enforcement, iam_world
from testbed.aws import REGION, MotoServer
from testbed.gateway_harness import TASK_READ_TIMEOUTS, gateway_environment, running_gateway, wait_until
from testbed.iam_eval import PolicyWorld
from testbed.lambda_fakes import LambdaContext

ROWS_PER_PHASE = 3000
ROWS_PER_REQUEST = 100
SHIFT_SD = 0.5
# Where the serving container unpacks model.tar.gz.
MODEL_DIRECTORY = "/opt/ml/model"
Say = Callable[[str], None]


@dataclass(frozen=True)
class LiveModel:
    """The live artifact's SageMaker entry point (model_fn, input_fn, predict_fn, output_fn: the framework
    container's interface) and the model its model_fn loaded."""

    entry: Any
    model: Any

    def answer(self, body: bytes, content_type: str) -> bytes:
        result = self.entry.output_fn(
            self.entry.predict_fn(self.entry.input_fn(body, content_type), self.model), content_type
        )
        answer = result[0] if isinstance(result, tuple) else result  # (body, content type) or the body alone
        return answer.encode() if isinstance(answer, str) else bytes(answer)


@dataclass
class ModelEndpoint(StubBehaviour):
    """The stub endpoint answering with the live model's own answers, as the SageMaker endpoint would."""

    live: LiveModel | None = None
    variants: tuple[str, ...] = ("AllTraffic",)
    record: bool = False

    def response(self, reply: StubReply, request: ReceivedRequest) -> bytes:
        assert self.live is not None
        answer = self.live.answer(request.body, request.headers.get("content-type", ""))
        return super().response(StubReply(body=answer), request)


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
    shifted = world.contract.features[0]
    rng = np.random.default_rng(seed)
    first_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    results = []
    with tempfile.TemporaryDirectory() as work:
        live = _live_model(sm, s3, world, Path(work) / "model")
        for index, (name, shift) in enumerate((("stable", 0.0), ("drifted", SHIFT_SD))):
            rows = _sample_rows(world, Path(work) / f"{name}.csv", int(rng.integers(2**31)))
            rows[:, 0] += shift * rows[:, 0].std()
            hour = first_hour + timedelta(hours=index)
            _serve_through_gateway(server, world, live, rows, hour, Path(work) / f"gateway-{name}.log", iam)
            drifted = _drift_check(server, world, hour + timedelta(hours=1, minutes=5), iam)
            judged = _rows_judged(s3, world, hour, shifted)
            result = PhaseResult(name, judged, drifted, _alarm_state(server, endpoint, hour))
            say(f"  drift {name}: {result.rows} rows judged, drifted {list(drifted) or 'none'}, alarm {result.alarm}")
            results.append(result)
    stable, drifted = results
    return {
        "stable traffic leaves the drift alarm OK": stable.rows == ROWS_PER_PHASE and stable.alarm == "OK",
        "drifted traffic raises the drift alarm": shifted in drifted.drifted and drifted.alarm == "ALARM",
    }


def _sample_rows(world: World, path: Path, seed: int) -> np.ndarray:
    """The model's own sample data, its contract's columns in order."""
    with world.model.write_sample(path, rows=ROWS_PER_PHASE, seed=seed).open(newline="") as handle:
        return np.array([[float(row[name]) for name in world.contract.features] for row in csv.DictReader(handle)])


def _live_model(sm: Any, s3: Any, world: World, directory: Path) -> LiveModel:
    """The live package's model, loaded as the serving container loads it (its entry point, SAGEMAKER_PROGRAM under
    SAGEMAKER_SUBMIT_DIRECTORY), from the artifact version whose sha256 the package records (a later version may be
    an attacker's: the rehearsal plays that attack before)."""
    environment = world.model.serving.environment
    program, submit = environment.get("SAGEMAKER_PROGRAM"), environment.get("SAGEMAKER_SUBMIT_DIRECTORY", "")
    if world.model.serving.is_custom_container or not program or not submit.startswith(MODEL_DIRECTORY):
        raise RuntimeError(
            "the drift scenario serves the model through the entry point its artifact carries: model.serving needs "
            f"a framework container with SAGEMAKER_PROGRAM and SAGEMAKER_SUBMIT_DIRECTORY under {MODEL_DIRECTORY}"
        )
    arn = sm.describe_endpoint(EndpointName=world.naming.endpoint)["EndpointArn"]
    package = resource_tags.read_tags(sm, arn)[resource_tags.PACKAGE_ARN]
    description = sm.describe_model_package(ModelPackageName=package)
    digest = description["CustomerMetadataProperties"][registry.MODEL_SHA256_PROPERTY].removeprefix("sha256:")
    bucket, key = description["InferenceSpecification"]["Containers"][0]["ModelDataUrl"][5:].split("/", 1)
    versions = s3.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", [])
    bodies = (s3.get_object(Bucket=bucket, Key=key, VersionId=v["VersionId"])["Body"].read() for v in versions)
    body = next(b for b in bodies if hashlib.sha256(b).hexdigest() == digest)
    with tarfile.open(fileobj=io.BytesIO(body)) as archive:
        archive.extractall(directory, filter="data")
    code = directory / submit.removeprefix(MODEL_DIRECTORY).strip("/")
    spec = importlib.util.spec_from_file_location(f"live_entry_point_{digest[:12]}", code / program)
    assert spec is not None and spec.loader is not None, code / program
    entry = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(code))  # the container puts the submit directory on the path
    try:
        spec.loader.exec_module(entry)
    finally:
        sys.path.remove(str(code))
    return LiveModel(entry, entry.model_fn(str(directory)))


def _serve_through_gateway(
    server: MotoServer,
    world: World,
    live: LiveModel,
    rows: np.ndarray,
    hour: datetime,
    log: Path,
    iam: PolicyWorld | None,
) -> None:
    """`rows` through a gateway of their own (a fresh writer), its histograms then filed under `hour`."""
    prefix = s3_layout.histograms_root(world.naming.endpoint)
    before = set(_keys(server, world, prefix))
    with running_stub(ModelEndpoint(live=live)) as stub_url:
        environment = gateway_environment(
            server,
            stub_url,
            ENDPOINT_NAME=world.naming.endpoint,
            **world.contract.gateway_environment(),
            **TASK_READ_TIMEOUTS,
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


def _rows_judged(s3: Any, world: World, hour: datetime, column_name: str) -> int:
    """Rows of `column_name` in the newest decision record, which judged `hour`."""
    record = store.latest_record(s3, world.artifacts_bucket, world.naming.endpoint)
    assert record is not None and record["checked_at"] == hour.isoformat(), record
    return next(column["rows"] for column in record["columns"] if column["name"] == column_name)


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
