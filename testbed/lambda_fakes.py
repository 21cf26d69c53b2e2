"""Test doubles for release control: a moto-backed registry, stubbed clients for APIs moto lacks, job events.

moto 5.2.5 implements SageMaker model packages but not CodePipeline's PutJob*Result/ListActionExecutions nor
CodeCommit's GetBranch/PutFile; those clients are botocore Stubbers whose expected parameters are asserted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from safedeploy.lambda_actions.aws_clients import AwsClients
from testbed.moto_sagemaker import sagemaker_extensions

REGION = "ap-northeast-2"
GROUP = "demo-dev-models"
PIPELINE = "demo-dev-pipeline"
EXECUTION_ID = "11111111-2222-3333-4444-555555555555"
JOB_ID = "c2c7b5f4-2a1e-4c8e-9d3b-6f0a8e4b1d27"  # CodePipeline job ids are UUIDs (the API refuses others)
# One session for every test: it caches the service models, which makes a client cheap (moto's mock_aws resets
# boto3's default session, so plain boto3.client() would load the large SageMaker model again in every test).
SESSION = boto3.session.Session(region_name=REGION)
APPROVER = "arn:aws:sts::123456789012:assumed-role/MlApprover/alice"
PROMOTER = "arn:aws:sts::123456789012:assumed-role/ReleaseManager/bob"
# What the stack sets on ApprovalSync and Promote: their pipeline and the approval actions they read.
APPROVAL_ENVIRONMENT = {
    "PIPELINE_NAME": PIPELINE,
    "APPROVAL_STAGE": "Approval",
    "APPROVAL_ACTION": "Approval",
    "PROMOTION_APPROVAL_STAGE": "PromoteApproval",
    "PROMOTION_APPROVAL_ACTION": "PromoteApproval",
}


@contextmanager
def moto_sagemaker(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A SageMaker client on moto's in-process AWS, with fake credentials (never a real account); the release
    functions' approval configuration is set as the stack sets it."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        **APPROVAL_ENVIRONMENT,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws(), sagemaker_extensions():
        yield SESSION.client("sagemaker")


@pytest.fixture
def sagemaker(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A moto SageMaker client (with this suite's extensions) for the tests of a directory whose conftest imports it."""
    with moto_sagemaker(monkeypatch) as client:
        yield client


@dataclass
class MotoRegistry:
    """The four registry calls over moto's SageMaker; metrics live here because moto drops CustomerMetadata."""

    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    approvals: list[tuple[str, str, str]] = field(default_factory=list)

    def register(self, sm: Any, status: str, metrics: Mapping[str, float], group: str = GROUP) -> str:
        if not sm.list_model_package_groups(NameContains=group)["ModelPackageGroupSummaryList"]:
            sm.create_model_package_group(ModelPackageGroupName=group)
        arn = sm.create_model_package(ModelPackageGroupName=group, ModelApprovalStatus=status)["ModelPackageArn"]
        self.metrics[arn] = dict(metrics)
        return arn

    def package_metrics(self, sm: Any, s3: Any, package_arn: str) -> dict[str, float]:
        return dict(self.metrics[package_arn])

    def approval_status(self, sm: Any, package_arn: str) -> str:
        return sm.describe_model_package(ModelPackageName=package_arn)["ModelApprovalStatus"]

    def latest_package(self, sm: Any, group: str, status: str | None) -> str | None:
        filters = {"ModelApprovalStatus": status} if status else {}
        packages = sm.list_model_packages(ModelPackageGroupName=group, **filters)["ModelPackageSummaryList"]
        return (
            max(packages, key=lambda package: package["ModelPackageVersion"])["ModelPackageArn"] if packages else None
        )

    def set_approval(self, sm: Any, package_arn: str, status: str, description: str) -> None:
        self.approvals.append((package_arn, status, description))
        sm.update_model_package(
            ModelPackageArn=package_arn, ModelApprovalStatus=status, ApprovalDescription=description
        )


@dataclass
class Stubbed:
    """A real boto3 client answered by a botocore Stubber, recording the parameters of every call it sends."""

    client: Any
    stubber: Stubber
    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def last(self, operation: str) -> dict[str, Any]:
        return next(params for name, params in reversed(self.sent) if name == operation)

    def reported_message(self) -> str:
        """What the job told CodePipeline: the success summary or the failure message."""
        name, params = next((name, params) for name, params in reversed(self.sent) if name.startswith("PutJob"))
        return (
            params["executionDetails"]["summary"]
            if name == "PutJobSuccessResult"
            else params["failureDetails"]["message"]
        )


def stubbed(service: str) -> Stubbed:
    client = SESSION.client(service)
    stub = Stubbed(client=client, stubber=Stubber(client))
    client.meta.events.register(
        "before-parameter-build", lambda params, model, **_: stub.sent.append((model.name, dict(params)))
    )
    return stub


def expect_success(stub: Stubbed, job_id: str = JOB_ID, *, variables: bool = False) -> None:
    """`variables`: the action also exports output variables."""
    expected = {"jobId": job_id, "executionDetails": {"summary": ANY}} | ({"outputVariables": ANY} if variables else {})
    stub.stubber.add_response("put_job_success_result", {}, expected)


def expect_failure(stub: Stubbed, job_id: str = JOB_ID) -> None:
    stub.stubber.add_response(
        "put_job_failure_result", {}, {"jobId": job_id, "failureDetails": {"type": "JobFailed", "message": ANY}}
    )


def expect_action_executions(stub: Stubbed, runs: list[dict[str, Any]], execution_id: str = EXECUTION_ID) -> None:
    stub.stubber.add_response(
        "list_action_executions",
        {"actionExecutionDetails": runs},
        {"pipelineName": PIPELINE, "filter": {"pipelineExecutionId": execution_id}},
    )


def approval_run(
    status: str,
    updated_by: str | None = APPROVER,
    comment: str = "",
    stage: str = "Approval",
    action: str = "Approval",
    minute: int = 0,
) -> dict[str, Any]:
    """One ActionExecutionDetail of a Manual approval action, as ListActionExecutions returns it."""
    run: dict[str, Any] = {
        "pipelineExecutionId": EXECUTION_ID,
        "actionExecutionId": f"{action}-{minute}",
        "stageName": stage,
        "actionName": action,
        "startTime": datetime(2026, 1, 1, 9, minute, tzinfo=UTC),
        "lastUpdateTime": datetime(2026, 1, 1, 10, minute, tzinfo=UTC),
        "status": status,
        "input": {"actionTypeId": {"category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"}},
        "output": {"executionResult": {"externalExecutionId": f"token-{minute}", "externalExecutionSummary": comment}},
    }
    if updated_by is not None:
        run["updatedBy"] = updated_by
    return run


def train_run(package_arn: str) -> dict[str, Any]:
    """The Train action's execution detail with the exported MODEL_PACKAGE_ARN output variable."""
    return {
        "pipelineExecutionId": EXECUTION_ID,
        "stageName": "Train",
        "actionName": "Train",
        "status": "Succeeded",
        "output": {"outputVariables": {"MODEL_PACKAGE_ARN": package_arn, "MODEL_METRICS": "auc 0.9000"}},
    }


def job_event(user_parameters: Mapping[str, Any] | str | None, job_id: str = JOB_ID) -> dict[str, Any]:
    """A CodePipeline Lambda-invoke event as documented (no pipeline context in it) for the job `job_id` (a UUID, as
    CodePipeline's are: the handlers refuse others)."""
    configuration: dict[str, str] = {"FunctionName": "demo-dev-fn"}
    if user_parameters is not None:
        configuration["UserParameters"] = (
            user_parameters if isinstance(user_parameters, str) else json.dumps(user_parameters)
        )
    return {
        "CodePipeline.job": {
            "id": job_id,
            "accountId": "123456789012",
            "data": {
                "actionConfiguration": {"configuration": configuration},
                "inputArtifacts": [],
                "outputArtifacts": [],
                "artifactCredentials": {"accessKeyId": "AKIA", "secretAccessKey": "secret", "sessionToken": "token"},
            },
        }
    }


def wire_handler(monkeypatch: pytest.MonkeyPatch, module: ModuleType, registry: Any, **clients: Any) -> None:
    """Give a handler module these clients (others come from the shared session, i.e. moto) and this registry."""
    monkeypatch.setattr(module, "clients", AwsClients(clients, session=SESSION))
    monkeypatch.setattr(module, "default_registry", lambda: registry)


@dataclass
class LambdaContext:
    """The context Lambda passes a handler: the attributes Powertools' logger reads."""

    function_name: str = "demo-dev-fn"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:demo-dev-fn"
    aws_request_id: str = "request-1"
