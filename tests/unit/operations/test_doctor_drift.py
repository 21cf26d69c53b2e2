"""`safedeploy doctor`'s drift checks on moto: the schedule ran the check, the alarms exist, the gateway wrote
histograms and the check wrote decision records in the last hours."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from safedeploy.naming import DRIFT_SCHEDULE, Function, Naming
from safedeploy.operations import doctor
from safedeploy.operations.doctor import DoctorScope, Status
from safedeploy.parameters import Param, parameter_name
from testbed.aws import REGION, SESSION, in_process_aws
from testbed.deploy_world import (
    ARTIFACTS_BUCKET,
    DRIFT_BUCKET,
    ENDPOINT,
    ENV,
    PROJECT,
    ROLE_ARN,
    provision_parameters,
)

FUNCTION = Naming(PROJECT, ENV).function(Function.DRIFT_CHECK)
RULE = Naming(PROJECT, ENV).resource(DRIFT_SCHEDULE)


def healthy_drift(now: datetime) -> None:
    """What a working drift setup leaves in the account (moto): schedule, alarms, the function's recent runs, an
    hour of histograms and a decision record."""
    events, cloudwatch, s3 = SESSION.client("events"), SESSION.client("cloudwatch"), SESSION.client("s3")
    events.put_rule(Name=RULE, ScheduleExpression="rate(1 hour)", State="ENABLED")
    arn = f"arn:aws:lambda:{REGION}:123456789012:function:{FUNCTION}"
    events.put_targets(Rule=RULE, Targets=[{"Id": "Target0", "Arn": arn}])
    for alarm in doctor.DRIFT_ALARMS:
        cloudwatch.put_metric_alarm(
            AlarmName=f"{PROJECT}-{ENV}-{alarm}", Namespace="SafeDeploy/Drift", MetricName="DriftedColumns",
            Statistic="Maximum", Period=3600, EvaluationPeriods=1, Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        )  # fmt: skip
    for metric, value in (("Invocations", 2.0), ("Errors", 0.0)):
        cloudwatch.put_metric_data(
            Namespace="AWS/Lambda",
            MetricData=[{"MetricName": metric, "Dimensions": [{"Name": "FunctionName", "Value": FUNCTION}],
                         "Timestamp": now - timedelta(minutes=50), "Value": value}],
        )  # fmt: skip
    for param, bucket in ((Param.ARTIFACTS_BUCKET, ARTIFACTS_BUCKET), (Param.DRIFT_BUCKET, DRIFT_BUCKET)):
        if bucket not in [listed["Name"] for listed in s3.list_buckets()["Buckets"]]:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        name = parameter_name(PROJECT, ENV, param)
        SESSION.client("ssm").put_parameter(Name=name, Value=bucket, Type="String", Overwrite=True)
    hour = (now - timedelta(hours=1)).strftime("%Y%m%dT%H")
    s3.put_object(Bucket=DRIFT_BUCKET, Key=f"drift/{ENDPOINT}/histograms/{hour}/task-a.json", Body=b"{}")
    s3.put_object(Bucket=ARTIFACTS_BUCKET, Key=f"drift-decisions/{ENDPOINT}/{hour}0500Z-STABLE.json", Body=b"{}")


def serve() -> None:
    sm = SESSION.client("sagemaker")
    sm.create_model(ModelName="m1", ExecutionRoleArn=ROLE_ARN, PrimaryContainer={"Image": "image"})
    variant = {"VariantName": "AllTraffic", "ModelName": "m1", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
    sm.create_endpoint_config(EndpointConfigName=f"{ENDPOINT}-v1", ProductionVariants=[variant])
    sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=f"{ENDPOINT}-v1")


@pytest.fixture
def scope(monkeypatch: pytest.MonkeyPatch) -> Iterator[DoctorScope]:
    with in_process_aws(monkeypatch):
        provision_parameters(SESSION.client("ssm"))
        yield DoctorScope(client=SESSION.client, project=PROJECT, env=ENV, now=datetime.now(UTC))


def results(scope: DoctorScope) -> dict[str, tuple[Status, str]]:
    return {
        result.name: (result.status, result.detail) for result in doctor.run_checks(scope, str, doctor.DRIFT_CHECKS)
    }


def test_a_working_drift_setup_passes(scope: DoctorScope) -> None:
    serve()
    healthy_drift(scope.now)
    found = results(scope)
    assert {name: status for name, (status, _) in found.items()} == dict.fromkeys(
        ("drift-job", "drift-alarms", "drift-histograms", "drift-records"), Status.PASS
    ), found
    assert "without Model Monitor" in found["drift-records"][1]


def test_nothing_deployed_fails_the_schedule_and_alarms_and_skips_the_endpoint_checks(scope: DoctorScope) -> None:
    found = results(scope)
    assert found["drift-job"] == (Status.FAIL, f"no drift schedule {RULE}: deploy the drift stack")
    assert found["drift-alarms"][0] is Status.FAIL
    assert found["drift-histograms"][0] is Status.SKIP and found["drift-records"][0] is Status.SKIP


def test_silent_gateway_and_disabled_schedule_fail_with_what_to_look_at(scope: DoctorScope) -> None:
    serve()
    healthy_drift(scope.now - timedelta(hours=6))  # everything stopped six hours ago
    SESSION.client("events").disable_rule(Name=RULE)
    found = results(scope)
    assert found["drift-job"] == (Status.FAIL, f"{RULE} is DISABLED: nothing checks drift; enable it")
    assert found["drift-histograms"][0] is Status.FAIL and "drift baseline unavailable" in found["drift-histograms"][1]
    assert found["drift-records"][0] is Status.FAIL
