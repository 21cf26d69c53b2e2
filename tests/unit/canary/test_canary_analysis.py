"""Minute-by-minute canary analysis of a blue/green deployment on moto, against seeded fleet behaviour."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from safedeploy.canary.analysis import analyze_endpoint
from safedeploy.lambda_actions.aws_clients import AwsClients
from testbed.blue_green import BUCKET, Deployment
from testbed.deploy_world import ENDPOINT, ENV, PROJECT, provision_parameters
from testbed.fleet_metrics import FleetBehaviour
from tests.unit.canary.conftest import HEALTHY, verdict_values

HARMFUL = FleetBehaviour(error_rate=0.08, latency_ms=50)


def records(clients: AwsClients) -> list[str]:
    listed = clients("s3").list_objects_v2(Bucket=BUCKET, Prefix=f"decisions/{ENDPOINT}/config-v2@")
    return [item["Key"] for item in listed.get("Contents", [])]


def test_a_harmful_candidate_is_rolled_back_and_stays_rolled_back(
    blue_green: Callable[..., Deployment], clients: AwsClients
) -> None:
    deployment = blue_green()
    decisions = []
    for _ in range(12):
        deployment.serve_minute(1000, HEALTHY, HARMFUL)
        decisions.append(deployment.analyze())
    first = next(index for index, outcome in enumerate(decisions) if outcome.decision == "ROLLBACK")
    assert first <= 5, [outcome.decision for outcome in decisions]
    assert all(outcome.decision == "CONTINUE" and outcome.verdict_metric == 0 for outcome in decisions[:first])
    assert all(outcome.decision == "ROLLBACK" and outcome.verdict_metric == 1 for outcome in decisions[first:])
    record = decisions[first].record
    assert record["verdict"]["metrics"]["error_rate"]["status"] == "harmful"
    assert record["fleets"] == {"baseline": "config-v1", "candidate": "config-v2"}
    plan = record["plan"]  # the power this deployment's bake has, at its share
    assert plan["bake_seconds"] == 600 and {m["name"] for m in plan["metrics"]} == {"error_rate", "latency_p50_ms"}
    assert all(0.0 <= m["power_at_bake"] <= 1.0 for m in plan["metrics"])
    assert len(records(clients)) == len(decisions)
    stored = clients("s3").get_object(Bucket=BUCKET, Key=decisions[first].record_uri.split(f"{BUCKET}/", 1)[1])
    assert json.loads(stored["Body"].read())["decision"] == "ROLLBACK"
    published = verdict_values(clients, deployment.started_at, deployment.started_at + timedelta(minutes=15))
    assert published[first:] == [1.0] * (len(decisions) - first)


def test_an_equal_candidate_is_never_rolled_back(blue_green: Callable[..., Deployment], clients: AwsClients) -> None:
    deployment = blue_green()
    outcomes = []
    for _ in range(12):
        deployment.serve_minute(1000, HEALTHY, HEALTHY)
        outcomes.append(deployment.analyze())
    assert {outcome.decision for outcome in outcomes} <= {"CONTINUE", "PROMOTE"}
    assert {outcome.verdict_metric for outcome in outcomes} == {0}
    assert outcomes[-1].record["verdict"]["metrics"]["error_rate"]["look"] >= 1


def test_no_traffic_never_promotes(blue_green: Callable[..., Deployment]) -> None:
    deployment = blue_green()
    for _ in range(15):
        deployment.minute += 1
        outcome = deployment.analyze()
        assert (outcome.decision, outcome.verdict_metric) == ("CONTINUE", 0)
    assert "too little data" in outcome.detail


def test_a_minute_without_candidate_traffic_is_counted_as_zero(blue_green: Callable[..., Deployment]) -> None:
    deployment = blue_green()
    deployment.serve_minute(1000, HEALTHY, HEALTHY)
    deployment.minute += 1  # a minute nobody called the endpoint: CloudWatch has no datapoint at all
    deployment.serve_minute(1000, HEALTHY, HEALTHY)
    outcome = deployment.analyze()
    assert outcome.record["window"]["minutes"] == 3
    assert outcome.record["verdict"]["metrics"]["error_rate"]["n_candidate"] == 200


def test_no_deployment_publishes_zero_and_writes_nothing(clients: AwsClients) -> None:
    provision_parameters(clients("ssm"))
    now = datetime(2026, 11, 24, 12, 0, 5, tzinfo=UTC)
    outcome = analyze_endpoint(clients, PROJECT, ENV, now)
    assert (outcome.decision, outcome.verdict_metric) == (None, 0)
    assert "does not exist" in outcome.detail
    assert verdict_values(clients, now - timedelta(minutes=1), now + timedelta(minutes=1)) == [0.0]
    assert clients("s3").list_objects_v2(Bucket=BUCKET).get("KeyCount", 0) == 0


def test_unreadable_metrics_publish_no_verdict(
    blue_green: Callable[..., Deployment], clients: AwsClients, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Silence is breaching for the verdict alarm: a blind analysis must not report 0 (all clear)."""
    deployment = blue_green()
    deployment.serve_minute(1000, HEALTHY, HEALTHY)

    def throttled(**_: Any) -> Any:
        raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "GetMetricData")

    monkeypatch.setattr(clients("cloudwatch"), "get_metric_data", throttled)
    outcome = deployment.analyze()
    assert (outcome.decision, outcome.verdict_metric) == (None, None)
    assert "Throttling" in outcome.detail
    assert records(clients) == []


def test_all_at_once_has_no_baseline_to_compare(blue_green: Callable[..., Deployment]) -> None:
    deployment = blue_green(strategy="all_at_once", wait_interval_seconds=300)
    deployment.serve_minute(1000, HEALTHY, HARMFUL)
    outcome = deployment.analyze()
    assert (outcome.decision, outcome.verdict_metric) == (None, 0)
    assert "no concurrent baseline" in outcome.detail


def test_a_rollback_dated_after_the_clock_or_before_the_deployment_is_not_an_earlier_rollback(
    blue_green: Callable[..., Deployment], clients: AwsClients
) -> None:
    """Such a record (the analysis once took its time from whoever invoked it) used to hold every later minute at
    ROLLBACK: "a crossed boundary stays crossed"."""
    deployment = blue_green()
    folder = f"decisions/{ENDPOINT}/config-v2@{deployment.started_at.strftime('%Y%m%dT%H%M%SZ')}"
    for at in (deployment.started_at + timedelta(days=1), deployment.started_at - timedelta(days=1)):
        key = f"{folder}/{at.strftime('%Y%m%dT%H%M%SZ')}-ROLLBACK.json"
        clients("s3").put_object(Bucket=BUCKET, Key=key, Body=b"{}")
    for _ in range(3):
        deployment.serve_minute(1000, HEALTHY, HEALTHY)
    outcome = deployment.analyze()
    assert outcome.decision == "CONTINUE" and not outcome.record["reasons"][0].startswith("already rolled back")
