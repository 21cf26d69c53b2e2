"""`safedeploy doctor` on moto (SSM, CloudWatch, SageMaker, STS) with Stubbers where moto has no API (Lambda's
function configuration, CodeCommit GetBranch, CodeConnections): one line per check, exit 7 on any failure."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import safedeploy.cli.doctor_commands as doctor_commands
from safedeploy.cli import main
from safedeploy.operations.acceptance_results import Behaviour, Finding, Outcome, Results, write_results
from safedeploy.parameters import Param, parameter_name
from safedeploy.source_record import SourceRecord
from testbed.aws import SESSION, in_process_aws
from testbed.deploy_world import ALARMS, ENDPOINT, ENV, PROJECT, ROLE_ARN, provision_parameters
from testbed.lambda_fakes import Stubbed, stubbed
from tests.unit.operations.test_doctor_drift import healthy_drift

SCOPE = ["doctor", "--project", PROJECT, "--env", ENV]
FUNCTION = f"{PROJECT}-{ENV}-canary-analysis"
CONNECTION_PARAMETER = f"/{PROJECT}/{ENV}/source-connection-arn"
CONNECTION_ARN = "arn:aws:codeconnections:ap-northeast-2:123456789012:connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
COMMIT = "3f2a9c1d7e6b5a4f3e2d1c0b9a8f7e6d5c4b3a29"


@dataclass
class Account:
    """The moto account plus the stubbed services; `stubs` are created on first use and checked at the end."""

    stubs: dict[str, Stubbed] = field(default_factory=dict)

    def stub(self, service: str) -> Stubbed:
        if service not in self.stubs:
            self.stubs[service] = stubbed(service)
            self.stubs[service].stubber.activate()
        return self.stubs[service]

    def client(self, service: str) -> Any:
        stubbed_services = ("lambda", "codecommit", "codeconnections", "codestar-connections")
        return self.stub(service).client if service in stubbed_services else SESSION.client(service)


class Session:
    def __init__(self, account: Account) -> None:
        self.client, self.region_name = account.client, "ap-northeast-2"


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[Account]:
    with in_process_aws(monkeypatch):
        world = Account()
        monkeypatch.setattr(doctor_commands, "session", lambda args: Session(world))
        yield world
        for stub in world.stubs.values():
            stub.stubber.assert_no_pending_responses()
            stub.stubber.deactivate()


def put_parameter(name: str, value: str) -> None:
    SESSION.client("ssm").put_parameter(Name=name, Value=value, Type="String", Overwrite=True)


FLEET_METRICS = ("Invocations", "Invocation5XXErrors", "ModelLatency")


def healthy(
    account: Account,
    *,
    runtime: str = "python3.13",
    errors: float = 0.0,
    fleet_metrics: tuple[str, ...] = FLEET_METRICS,
    lambda_denied: bool = False,
) -> None:
    """An environment after a successful canary deployment from config v1 to v2 (each option spoils one part)."""
    ssm = SESSION.client("ssm")
    put_parameter("/cdk-bootstrap/hnb659fds/version", "27")
    provision_parameters(ssm)
    record = SourceRecord(kind="codecommit", repository=f"{PROJECT}-{ENV}", branch="main")
    put_parameter(parameter_name(PROJECT, ENV, Param.PIPELINE_SOURCE), record.to_json())
    cloudwatch = SESSION.client("cloudwatch")
    for name in ALARMS:
        cloudwatch.put_metric_alarm(
            AlarmName=name, Namespace="AWS/SageMaker", MetricName="Invocation5XXErrors", Statistic="Average",
            Period=60, EvaluationPeriods=1, Threshold=0.01, ComparisonOperator="GreaterThanThreshold",
        )  # fmt: skip
    if lambda_denied:
        account.stub("lambda").stubber.add_client_error(
            "get_function_configuration", "AccessDeniedException", "not authorized to perform lambda:GetFunction"
        )
    else:
        account.stub("lambda").stubber.add_response(
            "get_function_configuration",
            {"FunctionName": FUNCTION, "Runtime": runtime, "State": "Active", "LastUpdateStatus": "Successful"},
            {"FunctionName": FUNCTION},
        )
    five_minutes_ago = datetime.now(UTC) - timedelta(minutes=5)
    for metric, value in (("Invocations", 14.0), ("Errors", errors)):
        cloudwatch.put_metric_data(
            Namespace="AWS/Lambda",
            MetricData=[{"MetricName": metric, "Dimensions": [{"Name": "FunctionName", "Value": FUNCTION}],
                         "Timestamp": five_minutes_ago, "Value": value}],
        )  # fmt: skip
    deploy_v1_then_v2(fleet_metrics)
    account.stub("codecommit").stubber.add_response(
        "get_branch",
        {"branch": {"branchName": "main", "commitId": COMMIT}},
        {"repositoryName": f"{PROJECT}-{ENV}", "branchName": "main"},
    )
    healthy_drift(datetime.now(UTC))
    findings = tuple(Finding(behaviour, Outcome.CONFIRMED, "as designed") for behaviour in Behaviour)
    write_results(SESSION.client("ssm"), PROJECT, Results(ENV, "2026-12-07T02:00:00Z", "ap-northeast-2", findings))


def deploy_v1_then_v2(fleet_metrics: tuple[str, ...]) -> None:
    sm = SESSION.client("sagemaker")
    sm.create_model(ModelName="m1", ExecutionRoleArn=ROLE_ARN, PrimaryContainer={"Image": "image"})
    variant = {"VariantName": "AllTraffic", "ModelName": "m1", "InstanceType": "ml.m5.large",
               "InitialInstanceCount": 2, "InitialVariantWeight": 1.0}  # fmt: skip
    sm.create_endpoint_config(EndpointConfigName=f"{ENDPOINT}-v1", ProductionVariants=[variant])
    sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=f"{ENDPOINT}-v1")
    sm.create_endpoint_config(EndpointConfigName=f"{ENDPOINT}-v2", ProductionVariants=[variant])
    sm.update_endpoint(EndpointName=ENDPOINT, EndpointConfigName=f"{ENDPOINT}-v2")
    while sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointStatus"] != "InService":
        pass
    dimensions = [{"Name": "EndpointName", "Value": ENDPOINT}, {"Name": "VariantName", "Value": "AllTraffic"},
                  {"Name": "EndpointConfigName", "Value": f"{ENDPOINT}-v2"}]  # fmt: skip
    for metric in fleet_metrics:
        SESSION.client("cloudwatch").put_metric_data(
            Namespace="AWS/SageMaker", MetricData=[{"MetricName": metric, "Dimensions": dimensions, "Value": 1.0}]
        )


def lines(output: str) -> dict[str, str]:
    """check name -> its line, from doctor's output (after the header)."""
    return {line.split(" ")[1].rstrip(":"): line for line in output.strip().splitlines()[1:]}


def test_a_healthy_environment_passes_every_check(account: Account, capsys: pytest.CaptureFixture[str]) -> None:
    healthy(account)
    assert main(SCOPE) == 0
    output = capsys.readouterr().out
    assert output.splitlines()[0] == f"{PROJECT}/{ENV} in account 123456789012, region ap-northeast-2"
    shown = lines(output)
    assert list(shown) == [
        "bootstrap",
        "rollback-alarms",
        "canary-lambda",
        "fleet-metrics",
        "source",
        "drift-job",
        "drift-alarms",
        "drift-histograms",
        "drift-records",
        *(f"acceptance-{behaviour.value}" for behaviour in Behaviour),
    ]
    assert all(line.startswith("PASS ") for line in shown.values()), output
    assert shown["bootstrap"] == "PASS bootstrap: CDK bootstrap version 27 (/cdk-bootstrap/hnb659fds/version)"
    assert shown["canary-lambda"] == (
        f"PASS canary-lambda: {FUNCTION} on python3.13: 14 invocations, no errors in the last 15 minutes"
    )
    assert f"EndpointConfigName={ENDPOINT}-v2" in shown["fleet-metrics"]
    assert shown["source"] == f"PASS source: CodeCommit {PROJECT}-{ENV}@main at {COMMIT[:12]}"


def test_each_failure_is_one_line_and_exit_7(account: Account, capsys: pytest.CaptureFixture[str]) -> None:
    healthy(account, runtime="python3.11", errors=2.0)
    SESSION.client("ssm").delete_parameter(Name="/cdk-bootstrap/hnb659fds/version")
    SESSION.client("cloudwatch").delete_alarms(AlarmNames=[ALARMS[2]])
    assert main(SCOPE) == 7
    shown = lines(capsys.readouterr().out)
    assert shown["bootstrap"].startswith("FAIL bootstrap: no CDK bootstrap here (/cdk-bootstrap/hnb659fds/version")
    assert shown["rollback-alarms"] == (
        f"FAIL rollback-alarms: rollback alarms in the deployment config do not exist: {ALARMS[2]} (SageMaker could "
        "not watch them): deploy the guardrails stack"
    )
    assert shown["canary-lambda"].startswith(f"FAIL canary-lambda: {FUNCTION} runs on python3.11")
    assert shown["fleet-metrics"].startswith("PASS") and shown["source"].startswith("PASS")


def test_lambda_errors_fail_the_canary_check(account: Account, capsys: pytest.CaptureFixture[str]) -> None:
    healthy(account, errors=3.0)
    assert main(SCOPE) == 7
    assert lines(capsys.readouterr().out)["canary-lambda"] == (
        f"FAIL canary-lambda: {FUNCTION} (python3.13): 3 errors in 14 invocations in the last 15 minutes; "
        f"read /aws/lambda/{FUNCTION}"
    )


def test_a_missing_per_fleet_series_fails(account: Account, capsys: pytest.CaptureFixture[str]) -> None:
    """The EndpointConfigName dimension is documented with ModelLatency only; doctor checks the others exist."""
    healthy(account, fleet_metrics=("ModelLatency",))
    assert main(SCOPE) == 7
    assert lines(capsys.readouterr().out)["fleet-metrics"] == (
        f"FAIL fleet-metrics: no per-fleet series (EndpointConfigName={ENDPOINT}-v2) for Invocations, "
        "Invocation5XXErrors: the canary analysis cannot tell the fleets apart on these metrics"
    )


def test_an_endpoint_on_its_first_config_is_a_skip(account: Account, capsys: pytest.CaptureFixture[str]) -> None:
    healthy(account)
    sm = SESSION.client("sagemaker")
    sm.delete_endpoint(EndpointName=ENDPOINT)
    sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=f"{ENDPOINT}-v1")
    assert main(SCOPE) == 0
    assert lines(capsys.readouterr().out)["fleet-metrics"] == (
        f"SKIP fleet-metrics: {ENDPOINT} serves {ENDPOINT}-v1, which predates the endpoint (its first config, or a "
        "rollback to it): run doctor after a deployment"
    )


def test_no_endpoint_yet_is_a_skip_not_a_failure(account: Account, capsys: pytest.CaptureFixture[str]) -> None:
    healthy(account)
    sm = SESSION.client("sagemaker")
    sm.delete_endpoint(EndpointName=ENDPOINT)
    assert main(SCOPE) == 0
    assert lines(capsys.readouterr().out)["fleet-metrics"] == (
        f"SKIP fleet-metrics: endpoint {ENDPOINT} does not exist yet: run doctor after the first deployments"
    )


def test_an_aws_error_fails_only_its_check(account: Account, capsys: pytest.CaptureFixture[str]) -> None:
    healthy(account, lambda_denied=True)
    assert main(SCOPE) == 7
    shown = lines(capsys.readouterr().out)
    assert shown["canary-lambda"] == (
        "FAIL canary-lambda: missing permission for GetFunctionConfiguration: not authorized to perform "
        "lambda:GetFunction"
    )
    assert shown["source"].startswith("PASS")


def connection_source(account: Account, status: str, provider: str = "GitHub") -> None:
    record = SourceRecord(
        kind="codeconnections", repository="example-org/my-mlops", branch="main", provider="GitHub",
        connection_arn_parameter=CONNECTION_PARAMETER,
    )  # fmt: skip
    put_parameter(parameter_name(PROJECT, ENV, Param.PIPELINE_SOURCE), record.to_json())
    put_parameter(CONNECTION_PARAMETER, CONNECTION_ARN)
    account.stubs.pop("codecommit").stubber.deactivate()
    connection = {"ConnectionArn": CONNECTION_ARN, "ConnectionName": "my-mlops-github",
                  "ConnectionStatus": status, "ProviderType": provider, "OwnerAccountId": "123456789012"}  # fmt: skip
    account.stub("codeconnections").stubber.add_response(
        "get_connection", {"Connection": connection}, {"ConnectionArn": CONNECTION_ARN}
    )


def test_a_pending_connection_fails_with_what_to_do(account: Account, capsys: pytest.CaptureFixture[str]) -> None:
    healthy(account)
    connection_source(account, "PENDING")
    assert main(SCOPE) == 7
    assert lines(capsys.readouterr().out)["source"] == (
        "FAIL source: connection my-mlops-github is PENDING: complete it in the console (Developer Tools > Settings > "
        "Connections > Update pending connection)"
    )


def test_an_available_connection_of_the_configured_provider_passes(
    account: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    healthy(account)
    connection_source(account, "AVAILABLE")
    assert main([*SCOPE, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    (source,) = [check for check in report["checks"] if check["name"] == "source"]
    assert source["status"] == "PASS"
    assert "GitHub connection my-mlops-github is AVAILABLE for example-org/my-mlops@main" in source["detail"]


def test_a_connection_of_another_provider_fails(account: Account, capsys: pytest.CaptureFixture[str]) -> None:
    healthy(account)
    connection_source(account, "AVAILABLE", provider="Bitbucket")
    assert main(SCOPE) == 7
    assert "is a Bitbucket connection; pipeline.source says GitHub" in lines(capsys.readouterr().out)["source"]


def test_no_credentials_end_doctor_with_exit_5(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert main([*SCOPE, "--region", "ap-northeast-2"]) == 5
    assert "no AWS credentials found" in capsys.readouterr().err
