"""The whole acceptance sequence on moto: the estimate first, the platform's own training, registration and deploys,
a release recorded poll by poll, a forced rollback through SetAlarmState, findings recorded for doctor, and the
teardown even when a step fails. A `cdk` that deploys nothing stands in for the CLI; moto's SageMaker extension plays
SageMaker's update (it bakes when the test says so, and rolls back the update it was told to)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from moto.sagemaker.responses import SageMakerResponse

from acceptance.run import AcceptanceRun, cost_before
from acceptance.scratch import ScratchPlan, scratch_plan
from safedeploy.build_steps.model_plugin import ModelPlugin
from safedeploy.guardrails.endpoint_status import describe_endpoint
from safedeploy.guardrails.settings import DeploymentSettings, GuardrailParameter
from safedeploy.operations.acceptance_results import Behaviour, Outcome, read_results
from safedeploy.parameters import Param, parameter_name
from testbed.aws import REGION, SESSION, in_process_aws
from testbed.deploy_world import CONTRACT, ROLE_ARN
from testbed.moto_sagemaker import endpoint_updates, start_baking
from tests.support.configuration import two_environments, write_cdk_json

CONTEXT = two_environments("demo")
ALARMS = ("demo-acc-endpoint-5xx-rate", "demo-acc-endpoint-model-latency", "demo-acc-canary-verdict")


def provision(plan: ScratchPlan) -> None:
    """What the storage, pipeline and guardrails stacks leave for the run (moto has no CloudFormation deploy here)."""
    ssm, s3, sm = SESSION.client("ssm"), SESSION.client("s3"), SESSION.client("sagemaker")
    kms = SESSION.client("kms").create_key()["KeyMetadata"]["Arn"]
    for bucket in ("demo-acc-artifacts", "demo-acc-data"):
        s3.create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}, ObjectLockEnabledForBucket=True
        )
    rule = {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}
    s3.put_object_lock_configuration(
        Bucket="demo-acc-artifacts", ObjectLockConfiguration={"ObjectLockEnabled": "Enabled", "Rule": rule}
    )
    sm.create_model_package_group(ModelPackageGroupName="demo-acc-models")
    settings = DeploymentSettings.from_mapping(plan.raw["endpoint"])
    for alarm, namespace, metric in zip(
        ALARMS,
        ("AWS/SageMaker", "AWS/SageMaker", "SafeDeploy/Canary"),
        ("Invocation5XXErrors", "ModelLatency", "CanaryVerdict"),
        strict=True,
    ):
        SESSION.client("cloudwatch").put_metric_alarm(
            AlarmName=alarm, Namespace=namespace, MetricName=metric, Statistic="Average",
            Period=60, EvaluationPeriods=3, DatapointsToAlarm=2, Threshold=0.05,
            ComparisonOperator="GreaterThanThreshold",
        )  # fmt: skip
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}  # fmt: skip
    role = SESSION.client("iam").create_role(RoleName="demo-acc-canary", AssumeRolePolicyDocument=json.dumps(trust))
    function = SESSION.client("lambda").create_function(
        FunctionName="demo-acc-canary-analysis", Runtime="python3.13", Role=role["Role"]["Arn"], Handler="h.handler",
        Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
    )  # fmt: skip
    events = SESSION.client("events")
    events.put_rule(Name="demo-acc-canary-every-minute", ScheduleExpression="rate(1 minute)", State="ENABLED")
    events.put_targets(Rule="demo-acc-canary-every-minute", Targets=[{"Id": "canary", "Arn": function["FunctionArn"]}])
    values = {
        Param.ENDPOINT_NAME: "demo-acc-endpoint",
        Param.SAGEMAKER_EXECUTION_ROLE_ARN: ROLE_ARN,
        Param.DEPLOYMENT_CONFIG: GuardrailParameter(settings, ALARMS).to_json(),
        Param.MODEL_PACKAGE_GROUP: "demo-acc-models",
        Param.ARTIFACTS_BUCKET: "demo-acc-artifacts",
        Param.DATA_BUCKET: "demo-acc-data",
        Param.KMS_KEY_ARN: kms,
        Param.PIPELINE_NAME: "demo-acc",
        Param.SERVING_CONTRACT: CONTRACT.to_json(),
    }
    for key, value in values.items():
        ssm.put_parameter(Name=parameter_name("demo", "acc", key), Value=value, Type="String", Overwrite=True)


def delete_model_package(self: SageMakerResponse) -> str:
    """DeleteModelPackage, which moto lacks: the version is gone (its group can then be deleted)."""
    arn = self.sagemaker_backend.model_package_name_mapping.pop(self._get_param("ModelPackageName"))
    self.sagemaker_backend.model_packages.pop(arn)
    return "{}"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(SageMakerResponse, "delete_model_package", delete_model_package, raising=False)
    with in_process_aws(monkeypatch):
        yield


class Clock:
    """Each poll advances SageMaker by one step: an update in flight starts baking at its second poll."""

    def __init__(self) -> None:
        self.slept, self.silent_polls = 0.0, 0

    @staticmethod
    def _analysis_stopped() -> bool:
        events = SESSION.client("events")
        names = [rule["Name"] for rule in events.list_rules().get("Rules", [])]
        return "demo-acc-canary-every-minute" in names and (
            events.describe_rule(Name="demo-acc-canary-every-minute")["State"] == "DISABLED"
        )

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.silent_polls += self._analysis_stopped()
        if self.silent_polls == 3:  # CloudWatch's evaluation, played: the verdict alarm fires after 45 s of silence
            SESSION.client("cloudwatch").set_alarm_state(
                AlarmName=ALARMS[2], StateValue="ALARM", StateReason="missing data, breaching"
            )
        updates = endpoint_updates(REGION)
        for name, flight in updates.in_flight.items():
            if flight.polls_left <= 2:
                start_baking(REGION, name, since=datetime.now(UTC).replace(tzinfo=None))


def acceptance(plan: ScratchPlan, tmp_path: Path, lines: list[str], cdk_calls: list[Sequence[str]]) -> AcceptanceRun:
    model = ModelPlugin.from_mapping(CONTEXT["model"], path="model")
    clock = Clock()
    return AcceptanceRun(
        plan=plan,
        client=SESSION.client,
        cdk=lambda arguments: (cdk_calls.append(list(arguments)), provision(plan))[0],
        model=model,
        work_dir=tmp_path,
        progress=lines.append,
        sleep=clock.sleep,
        poll_seconds=0.0,
        metrics_settle=timedelta(0),
    )


@pytest.mark.slow
def test_a_run_releases_rolls_back_records_and_tears_down(aws: None, tmp_path: Path) -> None:
    plan = scratch_plan(CONTEXT, "acc")
    lines: list[str] = []
    cdk_calls: list[Sequence[str]] = []
    run = acceptance(plan, tmp_path, lines, cdk_calls)
    endpoint_updates(REGION).plan("demo-acc-endpoint", "succeed", polls=4)
    endpoint_updates(REGION).plan("demo-acc-endpoint", "rollback", polls=4, reason="alarm demo-acc-endpoint-5xx-rate")
    findings = {finding.behaviour: finding for finding in run.run()}
    assert lines[0].startswith("acceptance acc (a copy of dev) in ap-northeast-2: about ")
    assert cdk_calls == [["deploy", "demo-acc/storage", "demo-acc/pipeline", "demo-acc/guardrails",
                          "--require-approval", "never"]]  # fmt: skip
    assert set(findings) == set(Behaviour)
    assert findings[Behaviour.ROLLED_BACK_MARK].outcome is Outcome.CONFIRMED, findings
    recorded = read_results(SESSION.client("ssm"), "demo")
    assert recorded is not None and recorded.env == "acc"
    assert describe_endpoint(SESSION.client("sagemaker"), "demo-acc-endpoint") is None  # torn down
    assert findings[Behaviour.RETAIN_VARIANT_PROPERTIES].outcome is Outcome.CONFIRMED, findings
    assert findings[Behaviour.WEIGHTS_LAST_MODIFIED].outcome is not Outcome.FAILED, findings
    assert findings[Behaviour.VERDICT_MISSING_DATA].outcome is Outcome.CONFIRMED, findings
    assert "ALARM 0.8 min after the analysis stopped" in findings[Behaviour.VERDICT_MISSING_DATA].observed
    rule = SESSION.client("events").describe_rule(Name="demo-acc-canary-every-minute")
    assert rule["State"] == "ENABLED"  # the analysis runs again
    verdicts = SESSION.client("cloudwatch").get_metric_statistics(
        Namespace="SafeDeploy/Canary", MetricName="CanaryVerdict",
        Dimensions=[{"Name": "EndpointName", "Value": "demo-acc-endpoint"}],
        StartTime=datetime(2000, 1, 1), EndTime=datetime(2100, 1, 1), Period=60, Statistics=["Maximum"],
    )["Datapoints"]  # fmt: skip
    assert verdicts and {point["Maximum"] for point in verdicts} == {1.0}  # published during the second bake only
    assert "endpoint demo-acc-endpoint" in lines[-1] and lines[-1].endswith("retained: nothing")


def test_the_estimate_names_the_instance_type_and_its_price() -> None:
    text = cost_before(scratch_plan(CONTEXT, "acc"))
    assert "SageMaker ml.t2.medium: at most 6 instances x 1.7 h x 0.0728" in text


def test_the_teardown_runs_when_a_step_fails(aws: None, tmp_path: Path) -> None:
    plan = scratch_plan(CONTEXT, "acc")
    lines: list[str] = []

    def failing_deploy(arguments: Sequence[str]) -> None:
        raise RuntimeError("cdk deploy failed")

    run = acceptance(plan, tmp_path, lines, [])
    run.cdk = failing_deploy
    with pytest.raises(RuntimeError, match="cdk deploy failed"):
        run.run()
    steps = [line for line in lines[lines.index("[6/6] teardown") :] if line.startswith("[")]
    assert steps == [
        "[6/6] teardown",
        "[1/4] autoscaling of demo-acc-endpoint",
        "[2/4] endpoint demo-acc-endpoint",
        "[3/4] endpoint configs and models of demo-acc-endpoint",
        "[4/4] stacks of demo-acc: none deployed",
    ]


def test_the_command_refuses_a_real_environment_and_needs_credentials(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from acceptance.__main__ import main

    write_cdk_json(tmp_path, CONTEXT)
    monkeypatch.chdir(tmp_path)
    assert main(["--env", "dev"]) == 2
    assert "ENV=dev: the suite deploys and then deletes its own copy" in capsys.readouterr().err
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert main(["--env", "acc"]) == 5
    assert capsys.readouterr().err.startswith("acceptance: no usable AWS credentials")


def test_scratch_roles_are_assumable_only_while_the_suite_reads_as_them(aws: None) -> None:
    from acceptance.__main__ import PROBE_SID, ScratchRoles

    iam = SESSION.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}  # fmt: skip
    arn = iam.create_role(RoleName="demo-acc-reader", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    roles = ScratchRoles(SESSION, "123456789012")

    def statements() -> list[str | None]:
        document = iam.get_role(RoleName="demo-acc-reader")["Role"]["AssumeRolePolicyDocument"]
        return [statement.get("Sid") for statement in document["Statement"]]

    s3 = roles(arn)
    assert s3.meta.service_model.service_name == "s3"
    assert statements() == [None, PROBE_SID]
    roles(arn)  # a second probe of the same role does not widen it twice
    assert statements() == [None, PROBE_SID]
    roles.restore()
    assert statements() == [None]
