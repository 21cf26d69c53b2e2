"""A/B experiments: verdicts from per-variant metrics step the candidate's weight; rollback requests roll back."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pytest

from safedeploy.canary.analysis import analyze_endpoint
from safedeploy.canary.traffic import shift_traffic
from safedeploy.guardrails.deploy import deploy_package
from safedeploy.guardrails.deploy_target import DeployTarget
from safedeploy.guardrails.endpoint_status import EndpointWaiter
from safedeploy.guardrails.release_names import PRODUCTION_VARIANT
from safedeploy.release_control.aws_clients import AwsClients
from tests.support.deploy_world import ENDPOINT, ENV, PROJECT, provision_parameters, register_package
from tests.support.fleet_metrics import fleet_dimensions, publish_minute
from tests.unit.canary.conftest import HEALTHY

AB = {
    "strategy": "ab",
    "ab_weights": [50, 100],
    "wait_interval_seconds": 600,
    "canary": {"expected_requests_per_minute": 2000, "min_samples": 500, "looks": 10},
}


def weights(sm: Any) -> dict[str, float]:
    described = sm.describe_endpoint(EndpointName=ENDPOINT)
    return {variant["VariantName"]: variant["CurrentWeight"] for variant in described["ProductionVariants"]}


@pytest.fixture
def ab_test(clients: AwsClients) -> tuple[DeployTarget, str]:
    sm = clients("sagemaker")
    provision_parameters(clients("ssm"), AB)
    target = DeployTarget.load(clients("ssm"), PROJECT, ENV)
    waiter = EndpointWaiter(sm, poll_seconds=0, progress=lambda _: None, sleep=lambda _: None)
    deploy_package(sm, register_package(sm), target, waiter)
    deploy_package(sm, register_package(sm), target, waiter)
    (candidate,) = [name for name in weights(sm) if name != PRODUCTION_VARIANT]
    return target, candidate


def test_a_healthy_ab_candidate_is_promoted_to_all_traffic(clients: AwsClients, ab_test: tuple[Any, str]) -> None:
    _, candidate = ab_test
    sm, cloudwatch = clients("sagemaker"), clients("cloudwatch")
    config = sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"]
    started = sm.describe_endpoint_config(EndpointConfigName=config)["CreationTime"].replace(second=0, microsecond=0)
    rng = np.random.default_rng(11)
    outcome = None
    for minute in range(20):
        at = started + timedelta(minutes=minute, seconds=30)
        for variant in (PRODUCTION_VARIANT, candidate):
            publish_minute(cloudwatch, fleet_dimensions(ENDPOINT, variant), at, 1000, HEALTHY, rng)
        outcome = analyze_endpoint(clients, PROJECT, ENV, started + timedelta(minutes=minute + 1, seconds=5))
        if outcome.decision != "CONTINUE":
            break
    assert outcome is not None and outcome.decision == "PROMOTE", outcome and outcome.detail
    assert outcome.record["kind"] == "ab"
    detail = {"endpoint_name": ENDPOINT, "kind": "ab", "decision": "PROMOTE"}
    step = shift_traffic(clients, PROJECT, ENV, "Canary Verdict", detail)
    assert step.action == "promoted"
    described = sm.describe_endpoint(EndpointName=ENDPOINT)
    assert described["PendingDeploymentSummary"]["EndpointConfigName"] == config.removesuffix("-ab")


def test_a_rollback_verdict_takes_the_candidate_to_zero(clients: AwsClients, ab_test: tuple[Any, str]) -> None:
    _, candidate = ab_test
    detail = {"endpoint_name": ENDPOINT, "kind": "ab", "decision": "ROLLBACK"}
    step = shift_traffic(clients, PROJECT, ENV, "Canary Verdict", detail)
    assert step.action == "weights"
    assert weights(clients("sagemaker"))[candidate] == 0


def test_blue_green_verdicts_are_left_to_sagemaker(clients: AwsClients, ab_test: tuple[Any, str]) -> None:
    detail = {"endpoint_name": ENDPOINT, "kind": "blue_green", "decision": "ROLLBACK"}
    assert shift_traffic(clients, PROJECT, ENV, "Canary Verdict", detail).action == "none"


def test_a_rollback_request_returns_to_the_baseline_and_is_recorded(
    clients: AwsClients, ab_test: tuple[Any, str]
) -> None:
    sm = clients("sagemaker")
    experiment_config = sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"]
    detail = {"endpoint_name": ENDPOINT, "reason": "operator saw bad predictions"}
    outcome = shift_traffic(clients, PROJECT, ENV, "Rollback Requested", detail)
    assert outcome.action == "rolled-back"
    assert experiment_config in outcome.detail
    assert "decisions/" in outcome.detail


@pytest.mark.parametrize(
    ("detail_type", "detail", "message"),
    [
        ("Canary Verdict", {"endpoint_name": "other-endpoint", "kind": "ab", "decision": "PROMOTE"}, "this function"),
        ("Canary Verdict", {"endpoint_name": ENDPOINT, "decision": "PROMOTE"}, "detail.kind"),
        ("Something Else", {"endpoint_name": ENDPOINT}, "detail-type 'Something Else'"),
        ("Canary Verdict", {"endpoint_name": ENDPOINT, "kind": "ab", "decision": "MAYBE"}, "not one of"),
    ],
)
def test_malformed_events_are_refused_with_the_field_named(
    clients: AwsClients, ab_test: tuple[Any, str], detail_type: str, detail: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        shift_traffic(clients, PROJECT, ENV, detail_type, detail)
