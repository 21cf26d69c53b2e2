"""One-call rollback: where it leads, what it records, and when it refuses."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from safedeploy.guardrails import resource_tags
from safedeploy.guardrails.deploy import deploy_package
from safedeploy.guardrails.endpoint_status import EndpointWaiter
from safedeploy.guardrails.errors import EndpointBusy
from safedeploy.guardrails.rollback import plan_rollback, rollback_endpoint
from safedeploy.guardrails.rolled_back import RolledBackMarks
from testbed.deploy_world import ENDPOINT, register_package
from testbed.moto_sagemaker import EndpointUpdates

NOON = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def live_config(sm: Any) -> str:
    return sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"]


def test_rollback_serves_the_previous_config_and_records_it(
    sm: Any, marks: RolledBackMarks, two_releases: list[str], waiter: EndpointWaiter, updates: EndpointUpdates
) -> None:
    s3 = marks.s3

    result = rollback_endpoint(sm, ENDPOINT, marks=marks, reason="5xx spike", waiter=waiter, now=lambda: NOON)

    assert (result.from_config, result.to_config) == (f"{ENDPOINT}-v2", f"{ENDPOINT}-v1")
    assert updates.requests[-1] == {"EndpointName": ENDPOINT, "EndpointConfigName": f"{ENDPOINT}-v1"}  # no alarms
    assert live_config(sm) == f"{ENDPOINT}-v1"
    tags = resource_tags.read_tags(sm, sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointArn"])
    assert tags == {
        resource_tags.PACKAGE_ARN: two_releases[0],
        resource_tags.PREVIOUS_CONFIG: f"{ENDPOINT}-v2",
        resource_tags.ROLLED_BACK_FROM: f"{ENDPOINT}-v2",
        resource_tags.ROLLED_BACK_AT: "2026-03-01T12:00:00+00:00",
        resource_tags.GUARDED_CONFIG: "",  # a rollback is not a canary: the analysis leaves it alone
        resource_tags.GUARDED_AT: tags[resource_tags.GUARDED_AT],
    }
    assert result.record_uri == f"s3://{marks.bucket}/rollbacks/{ENDPOINT}/20260301T120000+0000.json"
    record = json.loads(s3.get_object(Bucket=marks.bucket, Key=result.record_uri.split("/", 3)[3])["Body"].read())
    assert record["reason"] == "5xx spike" and record["to_config"] == f"{ENDPOINT}-v1"


def test_a_second_rollback_undoes_the_first(
    sm: Any, marks: Any, two_releases: list[str], waiter: EndpointWaiter
) -> None:
    rollback_endpoint(sm, ENDPOINT, marks=marks, waiter=waiter, now=lambda: NOON)
    assert plan_rollback(sm, ENDPOINT) == (f"{ENDPOINT}-v1", f"{ENDPOINT}-v2")
    # each rollback is recorded under its own second (a real one takes minutes)
    rollback_endpoint(sm, ENDPOINT, marks=marks, waiter=waiter, now=lambda: NOON + timedelta(minutes=9))
    assert live_config(sm) == f"{ENDPOINT}-v2"


def test_rollback_to_a_named_config(sm: Any, marks: Any, target_for: Any, waiter: EndpointWaiter) -> None:
    target = target_for()
    for _ in range(3):
        deploy_package(sm, register_package(sm), target, waiter)
    rollback_endpoint(sm, ENDPOINT, marks=marks, to=f"{ENDPOINT}-v1", waiter=waiter)
    assert live_config(sm) == f"{ENDPOINT}-v1"


def test_without_a_previous_release_the_operator_must_name_one(
    marks: Any, sm: Any, target_for: Any, waiter: EndpointWaiter
) -> None:
    deploy_package(sm, register_package(sm), target_for(), waiter)
    with pytest.raises(ValueError, match=r"no previous config recorded .*name one with --to"):
        rollback_endpoint(sm, ENDPOINT, marks=marks)


@pytest.mark.parametrize(
    ("to", "message"),
    [("nope", "endpoint config 'nope' does not exist"), (f"{ENDPOINT}-v2", f"already serves {ENDPOINT}-v2")],
)
def test_unusable_targets_are_bad_input(sm: Any, marks: Any, two_releases: list[str], to: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rollback_endpoint(sm, ENDPOINT, marks=marks, to=to)


def test_a_missing_endpoint_is_bad_input(sm: Any, marks: Any) -> None:
    with pytest.raises(ValueError, match=f"endpoint {ENDPOINT} does not exist: nothing to roll back"):
        rollback_endpoint(sm, ENDPOINT, marks=marks)


def test_a_changing_endpoint_is_waited_for_or_refused(
    marks: Any, sm: Any, two_releases: list[str], waiter: EndpointWaiter, updates: EndpointUpdates
) -> None:
    updates.plan(ENDPOINT, "rollback", polls=3)
    sm.update_endpoint(EndpointName=ENDPOINT, EndpointConfigName=f"{ENDPOINT}-v1")
    with pytest.raises(EndpointBusy, match=f"endpoint {ENDPOINT}: Updating .*roll back once it has finished"):
        rollback_endpoint(sm, ENDPOINT, marks=marks)

    result = rollback_endpoint(sm, ENDPOINT, marks=marks, waiter=waiter)

    assert (result.from_config, result.to_config) == (f"{ENDPOINT}-v2", f"{ENDPOINT}-v1")
    assert live_config(sm) == f"{ENDPOINT}-v1"
