"""Each acceptance assertion on moto and recorded timelines: it says `confirmed` when AWS behaves as designed,
`fallback` when the other way, and `failed` only when neither the design nor its fallback holds."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from acceptance import checks
from acceptance.evidence import ReleaseEvidence, RoleProbe, RunEvidence, TimelineEntry, VerdictSilence
from safedeploy.guardrails.settings import DeploymentSettings
from safedeploy.operations.acceptance_results import Behaviour, Outcome
from testbed.aws import REGION, SESSION, in_process_aws
from testbed.deploy_world import ENDPOINT, ENV, PROJECT, marks_beside, provision_parameters, register_package

T0 = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
BLUE, GREEN = f"{ENDPOINT}-v1", f"{ENDPOINT}-v2"
SETTINGS = DeploymentSettings.from_mapping(
    {"wait_interval_seconds": 300, "termination_wait_seconds": 60, "max_execution_timeout_seconds": 3000,
     "canary": {"require_power": False}}
)  # fmt: skip


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with in_process_aws(monkeypatch):
        yield


def description(status: str, *, baking_since: datetime | None = None, count: int = 2) -> dict[str, Any]:
    """A DescribeEndpoint answer during (Updating, the new fleet pending) or after (InService) a blue/green update."""
    answer: dict[str, Any] = {
        "EndpointName": ENDPOINT,
        "EndpointArn": f"arn:aws:sagemaker:{REGION}:123456789012:endpoint/{ENDPOINT}",
        "EndpointStatus": status,
        "EndpointConfigName": BLUE if status != "InService" else GREEN,
        "ProductionVariants": [{"VariantName": "AllTraffic", "CurrentWeight": 1.0, "CurrentInstanceCount": count}],
    }
    if status == "Updating":
        variant: dict[str, Any] = {"VariantName": "AllTraffic"}
        if baking_since is not None:
            variant["VariantStatus"] = [{"Status": "Baking", "StartTime": baking_since}]
        answer["PendingDeploymentSummary"] = {
            "EndpointConfigName": GREEN,
            "StartTime": T0,
            "ProductionVariants": [variant],
        }
    return answer


def timeline(bake_seconds: tuple[int, ...], *, poll: int = 30, count_after: int = 2) -> tuple[TimelineEntry, ...]:
    """Polls every `poll` seconds through provisioning, each bake in turn (each ends where the next poll no longer
    shows it), and the settled endpoint."""
    entries, next_poll = [TimelineEntry(T0, description("Updating"))], T0 + timedelta(seconds=poll)
    for seconds in bake_seconds:
        started = next_poll
        for offset in range(0, seconds, poll):
            entries.append(
                TimelineEntry(started + timedelta(seconds=offset), description("Updating", baking_since=started))
            )
        next_poll = started + timedelta(seconds=seconds)
    entries.append(TimelineEntry(next_poll, description("InService", count=count_after)))
    return tuple(entries)


def release(package_arn: str = "", **changes: Any) -> ReleaseEvidence:
    fields: dict[str, Any] = {
        "package_arn": package_arn,
        "blue_config": BLUE,
        "green_config": GREEN,
        "started_at": T0,
        "ended_at": T0 + timedelta(minutes=20),
        "timeline": timeline((60, 60)),
        "rolled_back": False,
    }
    return ReleaseEvidence(**{**fields, **changes})


def run(
    *, healthy: ReleaseEvidence | None = None, harmful: ReleaseEvidence | None = None, **changes: Any
) -> RunEvidence:
    fields: dict[str, Any] = {
        "project": PROJECT,
        "env": ENV,
        "endpoint_name": ENDPOINT,
        "settings": SETTINGS,
        "client": SESSION.client,
        "healthy": healthy or release(),
        "harmful": harmful or release(rolled_back=True),
    }
    return RunEvidence(**{**fields, **changes})


def put_fleet_metrics(config: str, metrics: tuple[str, ...], *, raw: bool = True) -> None:
    dimensions = [
        {"Name": "EndpointName", "Value": ENDPOINT},
        {"Name": "VariantName", "Value": "AllTraffic"},
        {"Name": "EndpointConfigName", "Value": config},
    ]
    for metric in metrics:
        for minute in range(5):
            datum: dict[str, Any] = {"MetricName": metric, "Dimensions": dimensions}
            datum["Timestamp"] = T0 + timedelta(minutes=minute + 1)
            if raw:
                datum["Values"], datum["Counts"] = [1000.0, 2000.0, 9000.0], [1.0, 1.0, 1.0]
            else:
                datum["StatisticValues"] = {"SampleCount": 3.0, "Sum": 12000.0, "Minimum": 1000.0, "Maximum": 9000.0}
            SESSION.client("cloudwatch").put_metric_data(Namespace="AWS/SageMaker", MetricData=[datum])


ALL = ("Invocations", "Invocation5XXErrors", "ModelLatency")


def test_fleet_dimension_confirmed_fallback_and_unsettled(aws: None) -> None:
    put_fleet_metrics(BLUE, ALL)
    put_fleet_metrics(GREEN, ("Invocations", "ModelLatency"))
    finding = checks.check_fleet_dimension(run())
    assert finding.outcome is Outcome.FALLBACK
    assert f"{GREEN}: no Invocation5XXErrors" in finding.observed and "alarms still guard it" in finding.observed
    put_fleet_metrics(GREEN, ("Invocation5XXErrors",))
    assert checks.check_fleet_dimension(run()).outcome is Outcome.CONFIRMED


def test_fleet_dimension_without_any_series_is_unsettled_not_a_fallback(aws: None) -> None:
    assert checks.check_fleet_dimension(run()).outcome is Outcome.UNSETTLED


class Percentiles:
    """CloudWatch's answer where SageMaker publishes raw values: every statistic, percentiles included (moto computes
    no percentiles, so this answer is stubbed in the shape of MetricDataResult)."""

    def __init__(self) -> None:
        self.queries: list[dict[str, Any]] = []

    def get_metric_data(self, MetricDataQueries: list[dict[str, Any]], **_: Any) -> dict[str, Any]:
        self.queries += MetricDataQueries
        minutes = [T0 + timedelta(minutes=minute) for minute in range(5)]
        return {
            "MetricDataResults": [
                {"Id": q["Id"], "Timestamps": minutes, "Values": [1.0] * 5} for q in MetricDataQueries
            ]
        }


def test_latency_percentiles_per_fleet_are_confirmed_when_cloudwatch_returns_them() -> None:
    cloudwatch = Percentiles()
    finding = checks.check_latency_percentiles(run(client=lambda service: cloudwatch))
    assert finding.outcome is Outcome.CONFIRMED, finding
    assert "p50 5 minutes" in finding.observed and "p99 5 minutes" in finding.observed
    dimensions = {d["Name"]: d["Value"] for d in cloudwatch.queries[0]["MetricStat"]["Metric"]["Dimensions"]}
    assert dimensions["EndpointConfigName"] == GREEN


def test_no_latency_data_at_all_is_unsettled(aws: None) -> None:
    assert checks.check_latency_percentiles(run()).outcome is Outcome.UNSETTLED


def test_latency_published_as_statistic_sets_has_no_percentile_and_falls_back_to_the_mean(aws: None) -> None:
    put_fleet_metrics(GREEN, ("ModelLatency",), raw=False)
    finding = checks.check_latency_percentiles(run())
    assert finding.outcome is Outcome.FALLBACK, finding
    assert "Average 5 minutes, p50 0 minutes" in finding.observed


def test_bakes_are_read_from_the_timeline_to_the_poll_that_no_longer_shows_them() -> None:
    found = checks.bakes(timeline((120, 300), poll=30))
    assert [bake.seconds for bake in found] == [120, 300]


def test_bakes_within_the_deploy_budget_pass_and_beyond_it_fail() -> None:
    budget, _ = SETTINGS.total_waiting_seconds()
    half = budget // 2 - 30
    within = checks.check_final_bake(run(healthy=release(timeline=timeline((half, half)))))
    assert within.outcome is Outcome.CONFIRMED, within
    beyond = checks.check_final_bake(run(healthy=release(timeline=timeline((budget, budget)))))
    assert beyond.outcome is Outcome.FAILED, beyond
    assert f"final {budget} s" in beyond.observed and f"allows {budget} s" in beyond.observed


def test_no_baking_status_at_all_is_unsettled() -> None:
    finding = checks.check_final_bake(run(healthy=release(timeline=timeline(()))))
    assert finding.outcome is Outcome.UNSETTLED


def test_the_rolled_back_mark_round_trip_uses_the_library(aws: None) -> None:
    sm = SESSION.client("sagemaker")
    provision_parameters(SESSION.client("ssm"))  # the artifacts bucket, where the marks are
    marks = marks_beside(sm)
    package = register_package(sm)
    rolled = release(package, rolled_back=True, error="rolled back by SageMaker")
    assert checks.check_rolled_back_mark(run(harmful=rolled)).outcome is Outcome.FAILED
    marks.mark(package, at="2026-12-07T02:10:00Z", endpoint_name=ENDPOINT, reason="alarm")
    finding = checks.check_rolled_back_mark(run(harmful=rolled))
    assert finding.outcome is Outcome.CONFIRMED, finding
    assert marks.mark_of(package) is None
    not_rolled = release(package, rolled_back=False, error=None)
    assert checks.check_rolled_back_mark(run(harmful=not_rolled)).outcome is Outcome.UNSETTLED


class Refusing:
    """An S3 client of a role without s3:ListBucket for the key: S3 answers 403 for a missing key."""

    def head_object(self, **_: Any) -> None:
        raise ClientError({"Error": {"Code": "403", "Message": "Forbidden"}}, "HeadObject")


def test_missing_key_answers_per_role(aws: None) -> None:
    s3 = SESSION.client("s3")
    s3.create_bucket(Bucket="records", CreateBucketConfiguration={"LocationConstraint": REGION})
    lister = RoleProbe("deploy-role", s3, "records", "approvals/absent.json")
    assert checks.check_missing_key(run(role_probes=(lister,))).outcome is Outcome.CONFIRMED
    getter = RoleProbe("gateway-task-role", Refusing(), "records", "approvals/absent.json")
    finding = checks.check_missing_key(run(role_probes=(lister, getter)))
    assert finding.outcome is Outcome.FALLBACK
    assert finding.observed.startswith("deploy-role 404, gateway-task-role 403")
    assert checks.check_missing_key(run()).outcome is Outcome.UNSETTLED


def locked_bucket(name: str, *, default_days: int | None) -> None:
    s3 = SESSION.client("s3")
    s3.create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION}, ObjectLockEnabledForBucket=True
    )
    if default_days:
        rule = {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": default_days}}
        s3.put_object_lock_configuration(
            Bucket=name, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled", "Rule": rule}
        )


def test_object_lock_writes_are_retained(aws: None) -> None:
    locked_bucket("locked", default_days=1)
    since = datetime.now(UTC) - timedelta(minutes=1)
    evidence = run(healthy=release(started_at=since), locked_bucket="locked")
    assert checks.check_object_lock(evidence).outcome is Outcome.UNSETTLED
    SESSION.client("s3").put_object(Bucket="locked", Key="decisions/one.json", Body=b"{}", ChecksumAlgorithm="CRC32")
    finding = checks.check_object_lock(evidence)
    assert finding.outcome is Outcome.CONFIRMED, finding
    assert "1 writes to locked (decisions)" in finding.observed
    assert checks.check_object_lock(run()).outcome is Outcome.UNSETTLED


def test_a_write_without_retention_fails(aws: None) -> None:
    locked_bucket("unruled", default_days=None)
    since = datetime.now(UTC) - timedelta(minutes=1)
    SESSION.client("s3").put_object(Bucket="unruled", Key="approvals/unretained.json", Body=b"{}")
    finding = checks.check_object_lock(run(healthy=release(started_at=since), locked_bucket="unruled"))
    assert finding.outcome is Outcome.FAILED
    assert finding.observed.endswith("not retained: approvals/unretained.json")


def test_retained_instance_count_confirmed_or_fallback() -> None:
    scaled = SETTINGS.instance_count + 1
    kept = release(instance_count_before=scaled, timeline=timeline((60,), count_after=scaled))
    assert checks.check_retained_count(run(healthy=kept)).outcome is Outcome.CONFIRMED
    reset = release(instance_count_before=scaled, timeline=timeline((60,), count_after=SETTINGS.instance_count))
    assert checks.check_retained_count(run(healthy=reset)).outcome is Outcome.FALLBACK
    unscaled = release(instance_count_before=SETTINGS.instance_count)
    assert checks.check_retained_count(run(healthy=unscaled)).outcome is Outcome.UNSETTLED


def test_an_aws_error_fails_only_its_own_behaviour(aws: None) -> None:
    evidence = run(locked_bucket="no-such-bucket", harmful=release(rolled_back=False))
    findings = {finding.behaviour: finding for finding in checks.run_checks(evidence)}
    assert set(findings) == set(Behaviour)
    assert findings[Behaviour.OBJECT_LOCK_WRITES].outcome is Outcome.FAILED
    assert "NoSuchBucket" in findings[Behaviour.OBJECT_LOCK_WRITES].observed
    assert findings[Behaviour.FINAL_BAKE_LENGTH].outcome is Outcome.CONFIRMED


def test_a_weight_step_moving_last_modified_time_is_confirmed_otherwise_the_wider_window_holds() -> None:
    moved = run(weights_modified=(T0, T0 + timedelta(minutes=6)))
    assert checks.check_weights_last_modified(moved).outcome is Outcome.CONFIRMED
    kept = run(weights_modified=(T0, T0))
    assert checks.check_weights_last_modified(kept).outcome is Outcome.FALLBACK
    assert checks.check_weights_last_modified(run()).outcome is Outcome.UNSETTLED


def test_a_metric_not_emitted_at_all_leaves_the_dimension_unsettled(aws: None) -> None:
    put_fleet_metrics(BLUE, ("Invocations", "ModelLatency"))
    put_fleet_metrics(GREEN, ("Invocations", "ModelLatency"))
    finding = checks.check_fleet_dimension(run())
    assert finding.outcome is Outcome.UNSETTLED
    assert "Invocation5XXErrors has no series for the endpoint at all" in finding.observed


def test_a_silent_analysis_must_trip_the_verdict_alarm() -> None:
    stopped = T0
    soon = VerdictSilence(stopped, stopped + timedelta(minutes=4), timedelta(minutes=4))
    assert checks.check_verdict_missing_data(run(verdict_silence=soon)).outcome is Outcome.CONFIRMED
    late = VerdictSilence(stopped, stopped + timedelta(minutes=9), timedelta(minutes=9))
    assert checks.check_verdict_missing_data(run(verdict_silence=late)).outcome is Outcome.FALLBACK
    never = VerdictSilence(stopped, None, timedelta(minutes=12))
    finding = checks.check_verdict_missing_data(run(verdict_silence=never))
    assert finding.outcome is Outcome.FAILED and "would not roll back" in finding.observed
    assert checks.check_verdict_missing_data(run()).outcome is Outcome.UNSETTLED
