"""The Train action through a SageMaker Pipeline (`USE_SM_PIPELINE=true`): upsert it, start it, wait with progress.

The model's `sm_pipeline` entry point (cdk.json) defines a pipeline that trains, evaluates, checks and registers; this
step hands it the training data and the commit, and reads back the package its Register step created. Needs the
model's pipeline requirements (the example's `ml/requirements-pipeline.txt`).
"""

from __future__ import annotations

import importlib.util
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from safedeploy import registry
from safedeploy.build_steps.artifacts import upload_run_file
from safedeploy.build_steps.model_plugin import ModelPlugin, PipelineSpec
from safedeploy.build_steps.result import ReleaseResult
from safedeploy.build_steps.settings import ReleaseSettings
from safedeploy.build_steps.training_data import TrainingData
from safedeploy.errors import ConfigError

REGISTER_STEP = "Register"
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
                raise RuntimeError(
                    f"pipeline execution {self.execution_arn} {status['PipelineExecutionStatus']}: "
                    + "; ".join(reasons)
                )
            if waited >= self.timeout_seconds:
                raise TimeoutError(f"pipeline execution {self.execution_arn} still running after {waited:.0f} s")
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


def registered_package(steps: list[dict[str, Any]]) -> str:
    for step in steps:
        if step["StepName"] == REGISTER_STEP:
            return str(step["Metadata"]["RegisterModel"]["Arn"])
    raise RuntimeError(f"the pipeline succeeded without a {REGISTER_STEP} step: no model package was registered")


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
) -> ReleaseResult:
    if not model.sm_pipeline:
        raise ConfigError("USE_SM_PIPELINE is true but cdk.json names no model.sm_pipeline entry point")
    build_pipeline = model.load(model.sm_pipeline)
    if not settings.execution_role_arn:
        raise ConfigError("USE_SM_PIPELINE is true but no sagemaker-execution-role-arn parameter is set")
    dataset_uri = upload_run_file(client("s3"), settings, data.path, prefix="datasets", bucket=settings.data_bucket)
    spec = PipelineSpec(
        name=settings.naming.resource("train"),
        region=settings.region,
        role_arn=settings.execution_role_arn,
        artifacts_bucket=settings.artifacts_bucket,
        kms_key_arn=settings.kms_key_arn,
        model_package_group=settings.model_package_group,
        code_dir=stage_code(work_dir, model.code_package),
        instance_types=registry.DEFAULT_INSTANCE_TYPES,
        transform_instance_types=registry.DEFAULT_TRANSFORM_INSTANCE_TYPES,
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
    package_arn = registered_package(PipelineWatch(sm, execution_arn, progress).wait())
    return ReleaseResult(package_arn, registry.package_metrics(sm, client("s3"), package_arn))
