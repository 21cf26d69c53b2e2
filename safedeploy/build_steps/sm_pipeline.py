"""The Train action through a SageMaker Pipeline (`USE_SM_PIPELINE=true`): upsert it, start it, wait with progress,
then read back what its jobs produced.

The model's `sm_pipeline` entry point (cdk.json) defines a pipeline that trains and evaluates. This step hands it the
training data and the commit, and returns the artifact, report and drift reference its steps wrote (found by the
step and output names of the plug-in contract, only under the pipeline's own prefix of the artifacts bucket), so the
Train build records and registers them exactly as it does a model trained in the build: the same write-once copies,
digests, tooling bundle and drift baseline, verified the same way at approval and deploy. Needs the model's pipeline
requirements (the example's `ml/requirements-pipeline.txt`).
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import numpy as np
from botocore.exceptions import ClientError

from safedeploy import registry
from safedeploy.build_steps.artifacts import upload_run_file
from safedeploy.build_steps.model_plugin import (
    PIPELINE_EVALUATE_STEP,
    PIPELINE_MODEL_RECORD,
    PIPELINE_REPORT_NAME,
    PIPELINE_SCORES_NAME,
    ModelPlugin,
    PipelineSpec,
)
from safedeploy.build_steps.settings import ReleaseSettings
from safedeploy.build_steps.training_data import TrainingData
from safedeploy.errors import ConfigError, InputError
from safedeploy.s3_layout import PIPELINES, split_s3_uri

RUNNING_STATES = ("Executing", "Stopping")


@dataclass
class PipelineWatch:
    """Polls one execution, printing a line whenever the execution or one of its steps changes state."""

    sm: Any
    execution_arn: str
    progress: Callable[[str], None] = print
    poll_seconds: float = 30.0
    timeout_seconds: float = 7200.0
    sleep: Callable[[float], None] = time.sleep
    _seen: dict[str, str] = field(default_factory=dict)

    def wait(self) -> list[dict[str, Any]]:
        """The execution's steps once it succeeded; an error with every failure reason otherwise."""
        waited = 0.0
        while True:
            status = self.sm.describe_pipeline_execution(PipelineExecutionArn=self.execution_arn)
            steps = self._steps()
            self._report(status["PipelineExecutionStatus"], steps, waited)
            if status["PipelineExecutionStatus"] == "Succeeded":
                return steps
            if status["PipelineExecutionStatus"] not in RUNNING_STATES:
                reasons = [
                    f"{step['StepName']}: {step['FailureReason']}" for step in steps if step.get("FailureReason")
                ]
                reasons.insert(0, status.get("FailureReason", "no reason given"))
                raise InputError(
                    f"pipeline execution {self.execution_arn} {status['PipelineExecutionStatus']}: "
                    + "; ".join(reasons)
                )
            if waited >= self.timeout_seconds:
                self.sm.stop_pipeline_execution(PipelineExecutionArn=self.execution_arn)  # nothing runs unwatched
                raise InputError(f"pipeline execution {self.execution_arn} still running after {waited:.0f} s: stopped")
            self.sleep(self.poll_seconds)
            waited += self.poll_seconds

    def _steps(self) -> list[dict[str, Any]]:
        pages = self.sm.get_paginator("list_pipeline_execution_steps").paginate(
            PipelineExecutionArn=self.execution_arn, SortOrder="Ascending"
        )
        return [step for page in pages for step in page["PipelineExecutionSteps"]]

    def _report(self, execution_status: str, steps: list[dict[str, Any]], waited: float) -> None:
        for name, state in [("execution", execution_status), *((s["StepName"], s["StepStatus"]) for s in steps)]:
            if self._seen.get(name) != state:
                self._seen[name] = state
                self.progress(f"[{waited:>5.0f} s] {name}: {state}")


@dataclass(frozen=True)
class PipelineBuild:
    """What the pipeline's steps produced, downloaded: the same shape as a `train` entry point's result."""

    artifact: Path
    report: Path
    metrics: dict[str, float]
    features: np.ndarray
    feature_names: tuple[str, ...]
    scores: np.ndarray | None


@dataclass(frozen=True)
class EvaluationOutput:
    """The folder the step `Evaluate` of one execution wrote, `<spec.evaluation_uri>/<execution id>`, and when the
    step ended: nothing it holds may have changed after that (S3's If-Unmodified-Since)."""

    uri: str
    ended: datetime

    @classmethod
    def of(cls, spec: PipelineSpec, execution_arn: str, steps: Sequence[Mapping[str, Any]]) -> EvaluationOutput:
        step = next((s for s in steps if s.get("StepName") == PIPELINE_EVALUATE_STEP), None)
        if step is None or step.get("StepStatus") != "Succeeded" or not isinstance(step.get("EndTime"), datetime):
            raise InputError(
                f"the pipeline succeeded without a finished step named {PIPELINE_EVALUATE_STEP!r}: its evaluation "
                "cannot be found (docs/model.md)"
            )
        return cls(f"{spec.evaluation_uri}/{execution_arn.rsplit('/', 1)[-1]}", step["EndTime"])

    def download(self, s3: Any, bucket: str, work_dir: Path) -> tuple[Path, Path, bytes | None]:
        """The artifact Evaluate scored (its bytes hashed against Evaluate's record of them), the report and the
        held-out scores (if written), read only from the pipeline's own prefix of `bucket`, as they were when the
        step ended: only what was evaluated is ever registered."""
        record = self._read(s3, bucket, f"{self.uri}/{PIPELINE_MODEL_RECORD}", required=True)
        try:
            evaluated = json.loads(record or b"")
            model_uri, model_sha256 = str(evaluated["uri"]), str(evaluated["sha256"])
        except (ValueError, KeyError, TypeError):
            raise InputError(
                f'{self.uri}/{PIPELINE_MODEL_RECORD} is not {{"uri": ..., "sha256": ...}} of the model Evaluate scored'
            ) from None
        model = self._read(s3, bucket, model_uri, required=True) or b""
        actual = hashlib.sha256(model).hexdigest()
        if actual != model_sha256:
            raise InputError(
                f"{model_uri} hashes to {actual}, not to the {model_sha256} Evaluate scored: it changed after it was "
                "evaluated; nothing was registered"
            )
        report = self._read(s3, bucket, f"{self.uri}/{PIPELINE_REPORT_NAME}", required=True) or b""
        scores = self._read(s3, bucket, f"{self.uri}/{PIPELINE_SCORES_NAME}", required=False)
        work_dir.mkdir(parents=True, exist_ok=True)
        artifact, report_path = work_dir / model_uri.rsplit("/", 1)[-1], work_dir / PIPELINE_REPORT_NAME
        artifact.write_bytes(model)
        report_path.write_bytes(report)
        return artifact, report_path, scores

    def _read(self, s3: Any, bucket: str, uri: str, *, required: bool) -> bytes | None:
        owner, key = split_s3_uri(uri)
        if owner != bucket or not key.startswith(f"{PIPELINES}/"):
            raise InputError(f"{uri} is outside s3://{bucket}/{PIPELINES}/: a pipeline's output is read only there")
        try:
            return bytes(s3.get_object(Bucket=bucket, Key=key, IfUnmodifiedSince=self.ended)["Body"].read())
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404") and not required:
                return None
            if code in ("NoSuchKey", "404"):
                raise InputError(f"{uri} does not exist: the pipeline's step left no output there") from None
            if code in ("PreconditionFailed", "412"):
                raise InputError(
                    f"{uri} changed after the step {PIPELINE_EVALUATE_STEP} ended ({self.ended.isoformat()}): only "
                    "what was evaluated is registered; nothing was registered"
                ) from None
            raise


def contract_columns(data_csv: Path, names: Sequence[str]) -> list[int]:
    """Where the serving contract's features are in the training data's header, checked before a pipeline runs."""
    with data_csv.open(newline="") as handle:
        header = next(csv.reader(handle), [])
    missing = [name for name in names if name not in header]
    if missing:
        raise InputError(
            f"{data_csv.name} has no column {', '.join(missing)} of model.contract.features: the drift baseline is "
            "built from the training data's columns the requests carry"
        )
    return [header.index(name) for name in names]


def training_features(data_csv: Path, names: Sequence[str]) -> np.ndarray:
    """The training data's columns the serving contract names, in its order: the data-drift reference."""
    columns = contract_columns(data_csv, names)
    try:
        table = np.loadtxt(data_csv, delimiter=",", skiprows=1, usecols=columns, dtype=float, ndmin=2)
    except ValueError as error:
        raise InputError(f"{data_csv.name}: a column of model.contract.features is not numeric: {error}") from None
    return table


def read_pipeline_build(
    s3: Any,
    output: EvaluationOutput,
    settings: ReleaseSettings,
    data: TrainingData,
    model: ModelPlugin,
    work_dir: Path,
) -> PipelineBuild:
    artifact, report, scores = output.download(s3, settings.artifacts_bucket, work_dir)
    try:
        reported = registry.metrics_from_report(json.loads(report.read_bytes()), source=PIPELINE_REPORT_NAME)
        held_out = None if scores is None else np.asarray(json.loads(scores)["scores"], dtype=float)
    except (ValueError, KeyError, TypeError) as error:
        raise InputError(f"the pipeline's evaluation output cannot be read: {error}") from None
    missing = [name for name in model.metrics if name not in reported]
    if missing:
        raise InputError(f"the pipeline's {PIPELINE_REPORT_NAME} reports no {', '.join(missing)} of model.metrics")
    metrics = {name: reported[name] for name in model.metrics}
    names = tuple(model.contract.features)
    return PipelineBuild(artifact, report, metrics, training_features(data.path, names), names, held_out)


def stage_code(work_dir: Path, package: str) -> Path:
    """A folder holding only the model's code package: what the pipeline's jobs get as their source."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"model code package {package!r} is not an importable package")
    code_dir = work_dir / "pipeline-code"
    shutil.rmtree(code_dir, ignore_errors=True)
    source = Path(next(iter(spec.submodule_search_locations)))
    shutil.copytree(source, code_dir / package, ignore=shutil.ignore_patterns("__pycache__"))
    return code_dir


def train_in_pipeline(
    settings: ReleaseSettings,
    client: Callable[[str], Any],
    data: TrainingData,
    work_dir: Path,
    model: ModelPlugin,
    progress: Callable[[str], None] = print,
) -> PipelineBuild:
    if not model.sm_pipeline:
        raise ConfigError("USE_SM_PIPELINE is true but cdk.json names no model.sm_pipeline entry point")
    build_pipeline = model.load(model.sm_pipeline)
    if not settings.execution_role_arn:
        raise ConfigError("USE_SM_PIPELINE is true but no sagemaker-execution-role-arn parameter is set")
    contract_columns(data.path, model.contract.features)  # before anything is paid for
    dataset_uri = upload_run_file(client("s3"), settings, data.path, prefix="datasets", bucket=settings.data_bucket)
    spec = PipelineSpec(
        name=settings.naming.resource("train"),
        region=settings.region,
        role_arn=settings.execution_role_arn,
        artifacts_bucket=settings.artifacts_bucket,
        work_prefix=PIPELINES,
        evaluation_uri=f"s3://{settings.artifacts_bucket}/{PIPELINES}/evaluation",
        kms_key_arn=settings.kms_key_arn,
        code_dir=stage_code(work_dir, model.code_package),
        minimums=dict(model.metrics),
        seed=settings.seed,
    )
    build_pipeline(spec, boto3.session.Session(region_name=settings.region)).upsert(role_arn=spec.role_arn)
    sm = client("sagemaker")
    execution_arn = sm.start_pipeline_execution(
        PipelineName=spec.name,
        PipelineExecutionDisplayName=f"{settings.commit_id[:12]}-{settings.run_id}"[:82],
        PipelineParameters=[
            {"Name": "InputDataUri", "Value": dataset_uri.rsplit("/", 1)[0] + "/"},
            {"Name": "CommitId", "Value": settings.commit_id},
        ],
    )["PipelineExecutionArn"]
    progress(f"started {execution_arn}")
    steps = PipelineWatch(sm, execution_arn, progress).wait()
    output = EvaluationOutput.of(spec, execution_arn, steps)
    return read_pipeline_build(client("s3"), output, settings, data, model, work_dir / "pipeline-outputs")
