"""SageMaker Pipelines on moto: an execution plays the definition the SDK upserted instead of succeeding at once.

moto 5.2.5 marks an execution Succeeded the moment it starts, runs nothing and has no ListPipelineExecutionSteps.
Inside `pipeline_runs(jobs)`, StartPipelineExecution plays the stored definition step by step, as SageMaker does:
- each value is resolved from the execution's parameters, its id and the earlier steps' properties (`Get`,
  `Std:Join`, `Std:JsonGet`); an expression this player does not know fails the execution, naming it;
- a Training or Processing step's resolved arguments are checked against botocore's shape of the API SageMaker
  calls for it (CreateTrainingJob, CreateProcessingJob), so a definition AWS would refuse fails here too; the job is
  recorded in moto (Describe* answers it) and the job's own code, as uploaded by the SDK, runs in a subprocess with
  a folder standing in for the container's `/opt/ml`: inputs are copied out of moto's S3 where the container would
  find them, outputs stored where the definition says (a training job's model as
  `<S3OutputPath>/<job>/output/model.tar.gz`). A training job runs the SDK's entry script (`sourcecode.json` of its
  `sm_drivers` channel) with its hyperparameters as `--name value` and `SM_CHANNEL_<NAME>`/`SM_MODEL_DIR` set, as
  the SDK's driver does; a processing job runs its ContainerEntrypoint and ContainerArguments, `/opt/ml/processing`
  mapped onto the folder;
- a Condition step evaluates its conditions, a Fail step fails the execution with its message.
What the player cannot show (the container image and its libraries, the job's IAM, SageMaker's own retries) is left
to a real run: the jobs run on this interpreter.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest.mock import patch

import botocore.session
from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.s3.models import s3_backends
from moto.sagemaker.models import SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse

from testbed import aws_contracts

_STEPS_ATTRIBUTE = "safedeploy_steps"
_REASON_ATTRIBUTE = "safedeploy_failure_reason"
_ARGUMENT_OPERATIONS = {"Training": "CreateTrainingJob", "Processing": "CreateProcessingJob"}
PROCESSING_ROOT = "/opt/ml/processing"
SOURCE_CODE_JSON = "sourcecode.json"  # the SageMaker SDK's record of a training job's entry script (sm_drivers/)
JOB_TIMEOUT = 300


@dataclass
class PlayedExecution:
    """One execution as played: what a test reads back besides the API."""

    arn: str
    status: str = "Executing"
    steps: list[dict[str, Any]] = field(default_factory=list)
    failure_reason: str = ""


class StepFailed(Exception):
    pass


@dataclass
class _Play:
    backend: SageMakerModelBackend
    definition: dict[str, Any]
    parameters: dict[str, str]
    execution_id: str
    pipeline_name: str
    workspace: Path
    properties: dict[str, dict[str, Any]] = field(default_factory=dict)
    property_files: dict[str, dict[str, Any]] = field(default_factory=dict)

    def run(self, record: PlayedExecution) -> None:
        try:
            for step in self.definition["Steps"]:
                self._step(step, record)
            record.status = "Succeeded"
        except StepFailed as failure:
            record.status, record.failure_reason = "Failed", str(failure)

    def _step(self, step: Mapping[str, Any], record: PlayedExecution) -> None:
        name, kind = step["Name"], step["Type"]
        entry: dict[str, Any] = {"StepName": name, "StepStatus": "Succeeded", "Metadata": {}, "StartTime": utcnow()}
        record.steps.append(entry)
        try:
            if kind == "Training":
                entry["Metadata"] = {"TrainingJob": {"Arn": self._training(name, step)}}
            elif kind == "Processing":
                entry["Metadata"] = {"ProcessingJob": {"Arn": self._processing(name, step)}}
            elif kind == "Condition":
                outcome = all(self._holds(condition) for condition in step["Arguments"]["Conditions"])
                entry["Metadata"] = {"Condition": {"Outcome": str(outcome).lower()}}
                for branch in step["Arguments"]["IfSteps" if outcome else "ElseSteps"]:
                    self._step(branch, record)
            elif kind == "Fail":
                message = str(self._resolve(step["Arguments"].get("ErrorMessage", "")))
                entry["Metadata"] = {"Fail": {"ErrorMessage": message}}
                raise StepFailed(message)
            else:
                raise StepFailed(f"step {name}: type {kind} is not played on moto")
        except StepFailed as failure:
            if entry["StepStatus"] == "Succeeded" and kind != "Condition":
                entry.update(StepStatus="Failed", FailureReason=str(failure))
            raise
        finally:
            entry["EndTime"] = utcnow()  # after the job's outputs were stored, as a step ends after its job

    # --- jobs ------------------------------------------------------------------------------------------------------

    def _arguments(self, name: str, kind: str, job_key: str) -> tuple[str, dict[str, Any]]:
        step = next(s for s in _all_steps(self.definition["Steps"]) if s["Name"] == name)
        arguments = self._resolve(step["Arguments"])
        # SageMaker names a pipeline's jobs itself; nothing may depend on the name.
        job_name = f"pipelines-{self.execution_id}-{name}-{uuid.uuid4().hex[:10]}"[:63]
        arguments[job_key] = job_name
        operation = (
            botocore.session.get_session().get_service_model("sagemaker").operation_model(_ARGUMENT_OPERATIONS[kind])
        )
        problems = aws_contracts.validate(arguments, operation)
        if problems:
            raise StepFailed(f"step {name}: {_ARGUMENT_OPERATIONS[kind]} would be refused: {problems}")
        return job_name, arguments

    def _training(self, name: str, step: Mapping[str, Any]) -> str:
        job_name, arguments = self._arguments(name, "Training", "TrainingJobName")
        channels = {
            channel["ChannelName"]: self._download(
                channel["DataSource"]["S3DataSource"]["S3Uri"], f"{name}/input/data/{channel['ChannelName']}"
            )
            for channel in arguments.get("InputDataConfig", [])
        }
        model_dir = self.workspace / name / "model"
        model_dir.mkdir(parents=True)
        source = json.loads((channels["sm_drivers"] / SOURCE_CODE_JSON).read_text())
        hyperparameters = [
            part for key, value in arguments.get("HyperParameters", {}).items() for part in (f"--{key}", str(value))
        ]
        self._run(
            name,
            [sys.executable, str(channels["code"] / source["entry_script"]), *hyperparameters],
            cwd=channels["code"],
            environment={
                "SM_MODEL_DIR": str(model_dir),
                **{f"SM_CHANNEL_{channel.upper()}": str(folder) for channel, folder in channels.items()},
            },
        )
        job = self.backend.create_training_job(
            training_job_name=job_name,
            hyper_parameters=arguments.get("HyperParameters", {}),
            algorithm_specification=arguments["AlgorithmSpecification"],
            role_arn=arguments["RoleArn"],
            input_data_config=arguments.get("InputDataConfig", []),
            output_data_config=arguments["OutputDataConfig"],
            resource_config=arguments["ResourceConfig"],
            vpc_config=arguments.get("VpcConfig", {}),
            stopping_condition=arguments["StoppingCondition"],
            tags=[],
            enable_network_isolation=False,
            enable_inter_container_traffic_encryption=False,
            enable_managed_spot_training=False,
            checkpoint_config={},
            debug_hook_config={},
            debug_rule_configurations=[],
            tensor_board_output_config={},
            experiment_config={},
        )
        artifact = self.workspace / name / "model.tar.gz"
        with tarfile.open(artifact, "w:gz") as archive:
            for path in sorted(model_dir.rglob("*")):
                archive.add(path, arcname=str(path.relative_to(model_dir)), recursive=False)
        model_uri = job.model_artifacts["S3ModelArtifacts"]
        self._upload(artifact, model_uri)
        self.properties[name] = job.response_object
        return str(job.arn)

    def _processing(self, name: str, step: Mapping[str, Any]) -> str:
        job_name, arguments = self._arguments(name, "Processing", "ProcessingJobName")
        root = self.workspace / name
        for item in arguments.get("ProcessingInputs", []):
            self._download(item["S3Input"]["S3Uri"], self._mounted(name, item["S3Input"]["LocalPath"]))
        outputs_config = arguments.get("ProcessingOutputConfig", {}).get("Outputs", [])
        outputs = {
            item["OutputName"]: self.workspace / self._mounted(name, item["S3Output"]["LocalPath"])
            for item in outputs_config
        }
        for folder in outputs.values():
            folder.mkdir(parents=True, exist_ok=True)
        application = arguments["AppSpecification"]
        command = [*application.get("ContainerEntrypoint", []), *application.get("ContainerArguments", [])]
        command = [
            sys.executable if part == "python3" else part.replace(PROCESSING_ROOT, str(root)) for part in command
        ]
        self._run(name, command, cwd=root, environment={})
        for item in outputs_config:
            for path in sorted(p for p in outputs[item["OutputName"]].rglob("*") if p.is_file()):
                relative = path.relative_to(outputs[item["OutputName"]]).as_posix()
                self._upload(path, f"{item['S3Output']['S3Uri'].rstrip('/')}/{relative}")
        job = self.backend.create_processing_job(
            app_specification=arguments["AppSpecification"],
            experiment_config={},
            network_config=arguments.get("NetworkConfig", {}),
            processing_inputs=arguments.get("ProcessingInputs", []),
            processing_job_name=job_name,
            processing_output_config=arguments.get("ProcessingOutputConfig", {}),
            role_arn=arguments["RoleArn"],
            tags=[],
            stopping_condition=arguments.get("StoppingCondition", {}),
        )
        self.properties[name] = job.response_object
        for property_file in step.get("PropertyFiles", []):
            path = outputs[property_file["OutputName"]] / property_file["FilePath"]
            self.property_files[f"{name}.{property_file['PropertyFileName']}"] = json.loads(path.read_text())
        return str(job.arn)

    def _mounted(self, name: str, local_path: str) -> str:
        """Where a container path of step `name` lies in the workspace."""
        if not local_path.startswith(f"{PROCESSING_ROOT}/"):
            raise StepFailed(f"{local_path} is outside {PROCESSING_ROOT}, where SageMaker mounts a job's data")
        return f"{name}/{local_path.removeprefix(f'{PROCESSING_ROOT}/')}"

    def _run(self, name: str, command: list[str], *, cwd: Path, environment: Mapping[str, str]) -> None:
        done = subprocess.run(
            command, cwd=cwd, env={**os.environ, **environment}, capture_output=True, text=True, timeout=JOB_TIMEOUT
        )
        if done.returncode != 0:
            last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise StepFailed(f"step {name}: the job exited with {done.returncode}: {last[0]}")

    # --- S3 --------------------------------------------------------------------------------------------------------

    def _download(self, uri: str, folder: str) -> Path:
        """An S3Prefix input: every object under the URI, laid out below the prefix as the container sees it."""
        bucket, prefix = _split(uri)
        target = self.workspace / folder
        target.mkdir(parents=True, exist_ok=True)
        s3 = s3_backends[self.backend.account_id]["global"]
        for key in [k for k in s3.get_bucket(bucket).keys if k.startswith(prefix)]:
            relative = key[len(prefix) :].lstrip("/") or key.rsplit("/", 1)[-1]
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            fake = s3.get_object(bucket, key)
            if fake is not None:
                destination.write_bytes(fake.value)
        return target

    def _upload(self, path: Path, uri: str) -> None:
        bucket, key = _split(uri)
        s3_backends[self.backend.account_id]["global"].put_object(bucket, key, path.read_bytes())

    # --- expressions -----------------------------------------------------------------------------------------------

    def _holds(self, condition: Mapping[str, Any]) -> bool:
        left, right = self._resolve(condition["LeftValue"]), self._resolve(condition["RightValue"])
        compare: dict[str, Callable[[Any, Any], bool]] = {
            "GreaterThanOrEqualTo": lambda a, b: float(a) >= float(b),
            "GreaterThan": lambda a, b: float(a) > float(b),
            "LessThanOrEqualTo": lambda a, b: float(a) <= float(b),
            "LessThan": lambda a, b: float(a) < float(b),
            "Equals": lambda a, b: a == b,
        }
        if condition["Type"] not in compare:
            raise StepFailed(f"condition type {condition['Type']} is not played on moto")
        return compare[condition["Type"]](left, right)

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self._resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if set(value) == {"Get"}:
            return self._get(value["Get"])
        if set(value) == {"Std:Join"}:
            join = value["Std:Join"]
            return str(join["On"]).join(str(self._resolve(item)) for item in join["Values"])
        if set(value) == {"Std:JsonGet"}:
            source = value["Std:JsonGet"]["PropertyFile"]["Get"].removeprefix("Steps.").replace(".PropertyFiles.", ".")
            document: Any = self.property_files[source]
            for part in value["Std:JsonGet"]["Path"].split("."):
                document = document[part]
            return document
        return {key: self._resolve(item) for key, item in value.items()}

    def _get(self, path: str) -> Any:
        if path.startswith("Parameters."):
            return self.parameters[path.removeprefix("Parameters.")]
        if path == "Execution.PipelineExecutionId":
            return self.execution_id
        if path == "Execution.PipelineName":
            return self.pipeline_name
        match = re.fullmatch(r"Steps\.([A-Za-z0-9-]+)\.([A-Za-z0-9.]+)", path)
        if match and match.group(1) in self.properties:
            document: Any = self.properties[match.group(1)]
            for part in match.group(2).split("."):
                document = document[part]
            return document
        raise StepFailed(f"the expression {path} is not resolved on moto")


def _all_steps(steps: Sequence[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    for step in steps:
        yield step
        if step["Type"] == "Condition":
            yield from _all_steps([*step["Arguments"]["IfSteps"], *step["Arguments"]["ElseSteps"]])


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _parameters(definition: Mapping[str, Any], given: Sequence[Mapping[str, str]] | None) -> dict[str, str]:
    values = {item["Name"]: item["DefaultValue"] for item in definition.get("Parameters", []) if "DefaultValue" in item}
    values.update({item["Name"]: item["Value"] for item in given or []})
    return values


@contextmanager
def pipeline_runs() -> Iterator[list[PlayedExecution]]:
    """Play every execution started inside the block; the list holds each as played."""
    played: list[PlayedExecution] = []
    original_start = SageMakerModelBackend.start_pipeline_execution
    original_describe = SageMakerModelBackend.describe_pipeline_execution

    def start_pipeline_execution(self: SageMakerModelBackend, pipeline_name: str, *args: Any, **kwargs: Any) -> Any:
        result = original_start(self, pipeline_name, *args, **kwargs)
        arn = result["PipelineExecutionArn"]
        pipeline = self.pipelines[pipeline_name]
        execution = pipeline.pipeline_executions[arn]
        record = PlayedExecution(arn)
        with tempfile.TemporaryDirectory(prefix="pipeline-") as workspace:
            _Play(
                backend=self,
                definition=json.loads(pipeline.pipeline_definition),
                parameters=_parameters(json.loads(pipeline.pipeline_definition), execution.pipeline_parameters),
                execution_id=arn.rsplit("/", 1)[-1],
                pipeline_name=pipeline.pipeline_name,
                workspace=Path(workspace),
            ).run(record)
        execution.pipeline_execution_status = record.status
        setattr(execution, _STEPS_ATTRIBUTE, record.steps)
        setattr(execution, _REASON_ATTRIBUTE, record.failure_reason)
        played.append(record)
        return result

    def describe_pipeline_execution(self: SageMakerModelBackend, pipeline_execution_arn: str) -> dict[str, Any]:
        description = original_describe(self, pipeline_execution_arn)
        pipeline = self.pipelines[pipeline_execution_arn.split("/")[1]]
        reason = getattr(pipeline.pipeline_executions[pipeline_execution_arn], _REASON_ATTRIBUTE, "")
        return {**description, "FailureReason": reason} if reason else description

    def list_pipeline_execution_steps(self: SageMakerResponse) -> ActionResult:
        arn = self._get_param("PipelineExecutionArn")
        pipeline = self.sagemaker_backend.pipelines[arn.split("/")[1]]
        steps = list(getattr(pipeline.pipeline_executions[arn], _STEPS_ATTRIBUTE, []))
        if self._get_param("SortOrder", "Descending") == "Descending":
            steps.reverse()
        return ActionResult({"PipelineExecutionSteps": steps})

    with ExitStack() as stack:
        for owner, name, replacement in (
            (SageMakerModelBackend, "start_pipeline_execution", start_pipeline_execution),
            (SageMakerModelBackend, "describe_pipeline_execution", describe_pipeline_execution),
            (SageMakerResponse, "list_pipeline_execution_steps", list_pipeline_execution_steps),
        ):
            stack.enter_context(patch.object(owner, name, replacement, create=True))
        yield played
