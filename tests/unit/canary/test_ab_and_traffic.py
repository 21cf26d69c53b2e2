"""A/B experiments: verified verdicts from per-variant metrics step the candidate's weight; nothing else moves it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from safedeploy.canary.analysis import AnalysisOutcome, analyze_endpoint
from safedeploy.canary.fleets import find_comparison
from safedeploy.canary.outputs import record_key, write_record
from safedeploy.canary.traffic import shift_traffic
from safedeploy.guardrails.deploy import deploy_package
from safedeploy.guardrails.deploy_target import DeployTarget
from safedeploy.guardrails.endpoint_status import EndpointWaiter, describe_endpoint
from safedeploy.guardrails.experiment import Experiment, advance_experiment
from safedeploy.guardrails.release_names import PRODUCTION_VARIANT
from safedeploy.guardrails.rolled_back import RolledBackMarks
from safedeploy.guardrails.settings import DeploymentSettings
from safedeploy.lambda_actions.aws_clients import AwsClients
from safedeploy.strategies.ab import AB_TEST
from testbed.blue_green import BUCKET
from testbed.deploy_world import ENDPOINT, ENV, PROJECT, provision_parameters, register_package
from testbed.fleet_metrics import fleet_dimensions, publish_minute
from tests.support.clock import SetClock
from tests.unit.canary.conftest import HEALTHY

AB = {
    "strategy": "ab",
    "ab_weights": [50, 100],
    "wait_interval_seconds": 600,
    "canary": {"expected_requests_per_minute": 2000, "min_samples": 500, "looks": 10},
}


def announced(outcome: AnalysisOutcome) -> dict[str, Any]:
    """The verdict event's detail as the analysis announces it (`safedeploy.canary.analysis`)."""
    fields = ("endpoint_name", "deployment_id", "kind", "decision")
    return {**{name: outcome.record[name] for name in fields}, "record_uri": outcome.record_uri}


def recorded_verdict(clients: AwsClients, decision: str, at: datetime | None = None) -> dict[str, Any]:
    """Write a decision record of the running experiment as the analysis does; return its event detail."""
    sm = clients("sagemaker")
    snapshot = describe_endpoint(sm, ENDPOINT)
    assert snapshot is not None
    running = find_comparison(sm, snapshot, DeployTarget.load(clients("ssm"), PROJECT, ENV).guardrails.settings)
    assert not isinstance(running, str), running
    at = at or datetime.now(UTC)
    record = {"endpoint_name": ENDPOINT, "deployment_id": running.deployment_id, "kind": running.kind}
    record |= {"decision": decision, "at": at.isoformat()}
    key = record_key(ENDPOINT, running.deployment_id, at, decision)
    return {**record, "record_uri": write_record(clients("s3"), BUCKET, key, record)}


def weights(sm: Any) -> dict[str, float]:
    described = sm.describe_endpoint(EndpointName=ENDPOINT)
    return {variant["VariantName"]: variant["CurrentWeight"] for variant in described["ProductionVariants"]}


def start_ab_test(clients: AwsClients, settings: dict[str, Any]) -> DeployTarget:
    """A first release, then an A/B test of a second one under `settings`."""
    sm = clients("sagemaker")
    provision_parameters(clients("ssm"), settings)
    target = DeployTarget.load(clients("ssm"), PROJECT, ENV, s3=clients("s3"))
    waiter = EndpointWaiter(sm, poll_seconds=0, progress=lambda _: None, sleep=lambda _: None)
    deploy_package(sm, register_package(sm), target, waiter)
    deploy_package(sm, register_package(sm), target, waiter)
    return target


@pytest.fixture
def ab_test(clients: AwsClients) -> tuple[DeployTarget, str]:
    target = start_ab_test(clients, AB)
    (candidate,) = [name for name in weights(clients("sagemaker")) if name != PRODUCTION_VARIANT]
    return target, candidate


def _healthy_minutes(clients: AwsClients, candidate: str, minutes: int, clock: SetClock) -> list[AnalysisOutcome]:
    """`minutes` minutes of equal fleets, analysed after each (the clock set to each analysis's time); the outcomes."""
    sm, cloudwatch = clients("sagemaker"), clients("cloudwatch")
    config = sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"]
    started = sm.describe_endpoint_config(EndpointConfigName=config)["CreationTime"].replace(second=0, microsecond=0)
    rng = np.random.default_rng(11)
    outcomes = []
    for minute in range(minutes):
        at = started + timedelta(minutes=minute, seconds=30)
        for variant in (PRODUCTION_VARIANT, candidate):
            publish_minute(cloudwatch, fleet_dimensions(ENDPOINT, variant), at, 1000, HEALTHY, rng)
        clock.at = started + timedelta(minutes=minute + 1, seconds=5)
        outcomes.append(analyze_endpoint(clients, PROJECT, ENV, clock.at))
    return outcomes


def test_a_healthy_ab_candidate_is_promoted_to_all_traffic(
    clients: AwsClients, ab_test: tuple[Any, str], clock: SetClock
) -> None:
    """Non-inferiority is shown once; later minutes are judged for harm only and keep saying PROMOTE, and the
    weight moves once it has served wait_interval_seconds (600 s)."""
    _, candidate = ab_test
    sm = clients("sagemaker")
    config = sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"]
    outcomes = _healthy_minutes(clients, candidate, 12, clock)
    decisions = [outcome.decision for outcome in outcomes]
    first = decisions.index("PROMOTE")
    assert "ROLLBACK" not in decisions and set(decisions[first:]) == {"PROMOTE"}, decisions
    last = outcomes[-1]
    assert last.record["kind"] == "ab" and last.record["reasons"][0].startswith("non-inferior since decisions/")
    assert last.record["policy"]["when_inconclusive"] == "CONTINUE" and not last.record["policy"]["promote"]
    step = shift_traffic(clients, PROJECT, ENV, "Canary Verdict", announced(last))
    assert step.action == "promoted"
    described = sm.describe_endpoint(EndpointName=ENDPOINT)
    assert described["PendingDeploymentSummary"]["EndpointConfigName"] == config.removesuffix("-ab")


def test_a_promote_before_the_weight_has_baked_holds_it(clients: AwsClients, ab_test: tuple[Any, str]) -> None:
    """After the first proof every minute says PROMOTE: each weight still serves wait_interval_seconds first."""
    _, candidate = ab_test
    sm = clients("sagemaker")
    since = describe_endpoint(sm, ENDPOINT).last_modified_at
    settings = DeploymentSettings(strategy=AB_TEST, ab_weights=(50, 100), wait_interval_seconds=600)
    early = advance_experiment(sm, ENDPOINT, AB_TEST, "PROMOTE", settings, since + timedelta(seconds=599))
    assert (early.action, early.detail) == (
        "unchanged",
        f"{candidate} holds 50% until {(since + timedelta(seconds=600)).isoformat(timespec='seconds')}",
    )
    assert advance_experiment(sm, ENDPOINT, AB_TEST, "PROMOTE", settings, since + timedelta(seconds=600)).action == (
        "promoted"
    )


def test_a_rollback_verdict_takes_the_candidate_to_zero(clients: AwsClients, ab_test: tuple[Any, str]) -> None:
    _, candidate = ab_test
    step = shift_traffic(clients, PROJECT, ENV, "Canary Verdict", recorded_verdict(clients, "ROLLBACK"))
    assert step.action == "weights"
    assert weights(clients("sagemaker"))[candidate] == 0


def test_blue_green_verdicts_are_left_to_sagemaker(clients: AwsClients, ab_test: tuple[Any, str]) -> None:
    detail = {"endpoint_name": ENDPOINT, "kind": "blue_green", "decision": "ROLLBACK"}
    assert shift_traffic(clients, PROJECT, ENV, "Canary Verdict", detail).action == "none"


def test_a_rollback_request_event_is_refused_and_traffic_stays(clients: AwsClients, ab_test: tuple[Any, str]) -> None:
    """A bare request carries nothing verifiable: operators roll back with `safedeploy rollback` instead."""
    before = weights(clients("sagemaker"))
    detail = {"endpoint_name": ENDPOINT, "reason": "operator saw bad predictions"}
    outcome = shift_traffic(clients, PROJECT, ENV, "Rollback Requested", detail)
    assert outcome.action == "refused"
    assert "safedeploy rollback" in outcome.detail
    assert weights(clients("sagemaker")) == before


@pytest.mark.parametrize(
    ("detail_type", "detail", "message"),
    [
        ("Canary Verdict", {"endpoint_name": "other-endpoint", "kind": "ab", "decision": "PROMOTE"}, "this function"),
        ("Canary Verdict", {"endpoint_name": ENDPOINT, "decision": "PROMOTE"}, "detail.kind"),
        ("Something Else", {"endpoint_name": ENDPOINT}, "only 'Canary Verdict' events"),
        ("Canary Verdict", {"endpoint_name": ENDPOINT, "kind": "ab", "decision": "MAYBE"}, "not one of"),
        ("Canary Verdict", {"endpoint_name": ENDPOINT, "kind": "ab", "decision": "PROMOTE"}, "detail.deployment_id"),
    ],
)
def test_malformed_events_are_refused_with_the_field_named(
    clients: AwsClients, ab_test: tuple[Any, str], detail_type: str, detail: dict[str, Any], message: str
) -> None:
    before = weights(clients("sagemaker"))
    outcome = shift_traffic(clients, PROJECT, ENV, detail_type, detail)
    assert outcome.action == "refused" and message in outcome.detail
    assert weights(clients("sagemaker")) == before


def test_an_experiment_ended_by_rollback_marks_its_package_so_it_is_not_redeployed(
    clients: AwsClients, ab_test: tuple[Any, str]
) -> None:
    """The first ROLLBACK takes the candidate to zero, the next ends the experiment; the package then carries the
    rolled-back mark that deploys and promotions refuse (an A/B candidate rolled back in dev reached prod before)."""
    sm, marks = clients("sagemaker"), RolledBackMarks(clients("s3"), BUCKET)
    package_arn = Experiment.running_on(sm, describe_endpoint(sm, ENDPOINT)).package_arn
    shift_traffic(clients, PROJECT, ENV, "Canary Verdict", recorded_verdict(clients, "ROLLBACK"))
    assert marks.mark_of(package_arn) is None  # at zero weight the experiment still runs
    later = datetime.now(UTC) + timedelta(seconds=1)
    step = shift_traffic(clients, PROJECT, ENV, "Canary Verdict", recorded_verdict(clients, "ROLLBACK", later))
    assert step.action == "rolled-back"
    mark = marks.mark_of(package_arn)
    assert mark is not None
    record = json.loads(clients("s3").get_object(Bucket=BUCKET, Key=mark.keys[0])["Body"].read())
    assert (record["endpoint_name"], record["reason"]) == (ENDPOINT, "ab experiment ended by a ROLLBACK verdict")
