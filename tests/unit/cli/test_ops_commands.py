"""`safedeploy status/approve/reject/retry-stage` and the one-line AWS errors, on moto.

moto has no CodePipeline state, approval or retry APIs, so those calls go to a botocore Stubber that checks the
exact requests; SSM, SageMaker and S3 are moto's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

import safedeploy.cli.ops_commands as ops_commands
from safedeploy.cli import main
from safedeploy.cli.aws_errors import one_line
from safedeploy.parameters import Param, parameter_name
from safedeploy.registry import register_model_package
from testbed.aws import SESSION, in_process_aws
from testbed.deploy_world import ARTIFACTS_BUCKET, ENDPOINT, ENV, GROUP, PROJECT, provision_parameters
from testbed.lambda_fakes import Stubbed, stubbed

PIPELINE = f"{PROJECT}-{ENV}-pipeline"
BUCKET = ARTIFACTS_BUCKET
ENVIRONMENT = ["--project", PROJECT, "--env", ENV]
# CodePipeline execution ids and approval tokens are UUIDs (the API refuses others).
RUNNING_EXECUTION = "5e9c1f3a-7b2d-4c8e-a1f0-3d6b9e2c4a71"
DEPLOYED_EXECUTION = "0a4d7e2b-9c1f-4b3a-8e6d-2f5c8a1b7d90"
APPROVAL_TOKEN = "8f2b6d1e-3a9c-4e7f-b5d0-1c4a7e9b2f63"


class Session:
    """The CLI's boto3 session, with CodePipeline answered by a Stubber."""

    def __init__(self, codepipeline: Stubbed) -> None:
        self.codepipeline = codepipeline

    def client(self, service: str) -> Any:
        return self.codepipeline.client if service == "codepipeline" else SESSION.client(service)


@pytest.fixture
def codepipeline(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubbed]:
    with in_process_aws(monkeypatch):
        ssm = SESSION.client("ssm")
        provision_parameters(ssm)  # publishes the artifacts bucket (BUCKET) and creates it
        ssm.put_parameter(Name=parameter_name(PROJECT, ENV, Param.PIPELINE_NAME), Value=PIPELINE, Type="String")
        stub = stubbed("codepipeline")
        monkeypatch.setattr(ops_commands, "session", lambda args: Session(stub))
        with stub.stubber:
            yield stub
        stub.stubber.assert_no_pending_responses()


def register(sm: Any, metrics: dict[str, float]) -> str:
    """A package as the Train step registers it: its model-quality report in the artifacts bucket."""
    key = f"evaluation/{len(metrics)}-{metrics['auc']}/evaluation.json"
    report = {"binary_classification_metrics": {name: {"value": value} for name, value in metrics.items()}}
    SESSION.client("s3").put_object(Bucket=BUCKET, Key=key, Body=json.dumps(report).encode())
    if not sm.list_model_package_groups(NameContains=GROUP)["ModelPackageGroupSummaryList"]:
        sm.create_model_package_group(ModelPackageGroupName=GROUP)
    return register_model_package(
        sm,
        group=GROUP,
        artifacts_bucket=BUCKET,
        image_uri="image",
        model_data_url=f"s3://{BUCKET}/models/model.tar.gz",
        report_s3_uri=f"s3://{BUCKET}/{key}",
        metrics=metrics,
        commit_id="abc123",
        description="test",
    )


def pipeline_state(approval_status: str = "InProgress", deploy_status: str = "Succeeded") -> dict[str, Any]:
    waiting = {"status": approval_status, **({"token": APPROVAL_TOKEN} if approval_status == "InProgress" else {})}
    return {
        "pipelineName": PIPELINE,
        "stageStates": [
            {
                "stageName": "Train",
                "latestExecution": {"pipelineExecutionId": RUNNING_EXECUTION, "status": "Succeeded"},
            },
            {
                "stageName": "Approval",
                "latestExecution": {"pipelineExecutionId": RUNNING_EXECUTION, "status": approval_status},
                "actionStates": [{"actionName": "ApproveModel", "latestExecution": waiting}],
            },
            {
                "stageName": "Deploy",
                "latestExecution": {"pipelineExecutionId": DEPLOYED_EXECUTION, "status": deploy_status},
            },
        ],
    }


def test_approve_answers_the_waiting_action_with_the_comment(
    codepipeline: Stubbed, capsys: pytest.CaptureFixture[str]
) -> None:
    codepipeline.stubber.add_response("get_pipeline_state", pipeline_state(), {"name": PIPELINE})
    codepipeline.stubber.add_response(
        "put_approval_result",
        {"approvedAt": datetime(2026, 11, 24, tzinfo=UTC)},
        {
            "pipelineName": PIPELINE,
            "stageName": "Approval",
            "actionName": "ApproveModel",
            "result": {"summary": "AUC above the live model", "status": "Approved"},
            "token": APPROVAL_TOKEN,
        },
    )
    assert main(["approve", *ENVIRONMENT, "--comment", "AUC above the live model"]) == 0
    assert "approved Approval/ApproveModel" in capsys.readouterr().out


def test_reject_without_a_pending_approval_says_so(codepipeline: Stubbed, capsys: pytest.CaptureFixture[str]) -> None:
    codepipeline.stubber.add_response("get_pipeline_state", pipeline_state("Succeeded"), {"name": PIPELINE})
    assert main(["reject", *ENVIRONMENT, "--comment", "worse on recent data"]) == 2
    assert f"no approval is waiting in pipeline {PIPELINE}" in capsys.readouterr().err


def test_retry_stage_retries_the_failed_actions_of_its_latest_execution(
    codepipeline: Stubbed, capsys: pytest.CaptureFixture[str]
) -> None:
    codepipeline.stubber.add_response("get_pipeline_state", pipeline_state(deploy_status="Failed"), {"name": PIPELINE})
    codepipeline.stubber.add_response(
        "retry_stage_execution",
        {"pipelineExecutionId": DEPLOYED_EXECUTION},
        {
            "pipelineName": PIPELINE,
            "stageName": "Deploy",
            "pipelineExecutionId": DEPLOYED_EXECUTION,
            "retryMode": "FAILED_ACTIONS",
        },
    )
    assert main(["retry-stage", *ENVIRONMENT, "Deploy", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "pipeline": PIPELINE,
        "stage": "Deploy",
        "execution_id": DEPLOYED_EXECUTION,
    }


def test_retry_stage_refuses_a_stage_that_did_not_fail(
    codepipeline: Stubbed, capsys: pytest.CaptureFixture[str]
) -> None:
    codepipeline.stubber.add_response("get_pipeline_state", pipeline_state(), {"name": PIPELINE})
    assert main(["retry-stage", *ENVIRONMENT, "Train"]) == 2
    assert "stage Train of demo-dev-pipeline is Succeeded, not Failed" in capsys.readouterr().err


def test_status_shows_the_candidate_beside_the_live_model_and_the_endpoint(
    codepipeline: Stubbed, capsys: pytest.CaptureFixture[str]
) -> None:
    sm = SESSION.client("sagemaker")
    live, candidate = register(sm, {"auc": 0.85}), register(sm, {"auc": 0.88})
    sm.update_model_package(ModelPackageArn=live, ModelApprovalStatus="Approved")
    codepipeline.stubber.add_response("get_pipeline_state", pipeline_state(), {"name": PIPELINE})
    codepipeline.stubber.add_response(
        "list_pipeline_executions",
        {"pipelineExecutionSummaries": [{"pipelineExecutionId": RUNNING_EXECUTION, "status": "InProgress"}]},
        {"pipelineName": PIPELINE, "maxResults": 5},
    )
    codepipeline.stubber.add_response(
        "list_action_executions",
        {"actionExecutionDetails": [{"output": {"outputVariables": {"MODEL_PACKAGE_ARN": candidate}}}]},
        {"pipelineName": PIPELINE, "filter": {"pipelineExecutionId": RUNNING_EXECUTION}},
    )
    assert main(["status", *ENVIRONMENT, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    (approval,) = report["pipeline"]["pending_approvals"]
    assert (approval["candidate"]["arn"], approval["live"]["arn"]) == (candidate, live)
    assert (approval["candidate"]["metrics"], approval["live"]["metrics"]) == ({"auc": 0.88}, {"auc": 0.85})
    assert (approval["candidate"]["status"], approval["live"]["status"]) == ("PendingManualApproval", "Approved")
    assert report["pipeline"]["running_executions"] == [RUNNING_EXECUTION]
    assert report["endpoint"] == {"name": ENDPOINT, "status": "NotFound"}
    assert report["last_canary_decision"] is None
    assert GROUP in approval["candidate"]["arn"]


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        ("AccessDeniedException", "not authorized to perform sagemaker:DescribeEndpoint", "missing permission for "),
        ("ThrottlingException", "Rate exceeded", "AWS throttled DescribeEndpoint"),
        ("ValidationException", "Could not find endpoint x", "endpoint not found"),
    ],
)
def test_aws_errors_become_one_actionable_line(code: str, message: str, expected: str) -> None:
    line = one_line(ClientError({"Error": {"Code": code, "Message": message}}, "DescribeEndpoint"))
    assert line.startswith(expected) and "\n" not in line


def test_an_aws_error_in_a_command_exits_6_with_one_line(
    codepipeline: Stubbed, capsys: pytest.CaptureFixture[str]
) -> None:
    codepipeline.stubber.add_client_error(
        "get_pipeline_state", "AccessDeniedException", "not authorized to perform codepipeline:GetPipelineState"
    )
    assert main(["retry-stage", *ENVIRONMENT, "Deploy"]) == 6
    error = capsys.readouterr().err.strip()
    assert error == (
        "safedeploy retry-stage: AWS error: missing permission for GetPipelineState: "
        "not authorized to perform codepipeline:GetPipelineState"
    )


def test_status_of_an_environment_that_is_not_deployed_says_so(
    codepipeline: Stubbed, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "--project", PROJECT, "--env", "staging"]) == 2
    error = capsys.readouterr().err
    assert "SSM parameter /demo/staging/pipeline-name not found" in error
    assert "environment 'staging' deployed" in error


def test_status_renders_the_endpoint_and_the_last_canary_decision(
    codepipeline: Stubbed, capsys: pytest.CaptureFixture[str]
) -> None:
    sm, s3 = SESSION.client("sagemaker"), SESSION.client("s3")
    sm.create_model(
        ModelName="m1", ExecutionRoleArn="arn:aws:iam::123456789012:role/r", PrimaryContainer={"Image": "i"}
    )
    variant = {"VariantName": "AllTraffic", "ModelName": "m1", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1,
               "InitialVariantWeight": 1.0}  # fmt: skip
    sm.create_endpoint_config(EndpointConfigName=f"{ENDPOINT}-v1", ProductionVariants=[variant])
    sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=f"{ENDPOINT}-v1")
    key = f"decisions/{ENDPOINT}/{ENDPOINT}-v2/20261124T120105Z-ROLLBACK.json"
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"{}")
    codepipeline.stubber.add_response("get_pipeline_state", pipeline_state("Succeeded"), {"name": PIPELINE})
    codepipeline.stubber.add_response(
        "list_pipeline_executions", {"pipelineExecutionSummaries": []}, {"pipelineName": PIPELINE, "maxResults": 5}
    )
    assert main(["status", *ENVIRONMENT]) == 0
    shown = capsys.readouterr().out
    assert f"endpoint {ENDPOINT}: InService" in shown
    assert "traffic: AllTraffic 100%" in shown
    assert "last canary decision: ROLLBACK at 20261124T120105Z" in shown
    assert "  Deploy           Succeeded" in shown
