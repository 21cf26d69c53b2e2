"""The deployment's statistical policy: a blue/green bake's horizon is its time, up to its last actionable minute."""

from __future__ import annotations

from datetime import UTC, datetime

from safedeploy.canary.fleets import Comparison, Fleet
from safedeploy.canary.policy import canary_policy
from safedeploy.guardrails.settings import DeploymentSettings
from safedeploy.strategies import DeploymentStrategy
from safedeploy.strategies.ab import AB_TEST
from safedeploy.strategies.canary import CANARY

DEV = {"instance_count": 2, "wait_interval_seconds": "auto", "max_execution_timeout_seconds": 14400}
METRICS = {"error_rate", "latency_ms", "latency_p50_ms"}


def comparison(kind: DeploymentStrategy, share: float) -> Comparison:
    fleet = Fleet("f", ())
    return Comparison("e", "c", kind, datetime(2026, 12, 1, tzinfo=UTC), fleet, fleet, share, share)


def test_a_blue_green_bake_has_its_judged_minutes_as_horizon() -> None:
    settings = DeploymentSettings.from_mapping(DEV)
    judged = settings.wait_interval_seconds // 60 - 3  # a ROLLBACK needs 3 minutes to reach SageMaker
    policy = canary_policy(settings, comparison(CANARY, 0.5), METRICS)
    assert set(policy.metrics) == {"error_rate", "latency_p50_ms"}
    for metric in policy.metrics.values():
        assert metric.horizon_minutes == judged and metric.last_look_minute is None
        assert metric.horizon == int(settings.canary.expected_requests_per_minute * 0.5 * judged)
        assert metric.late_alpha_share == settings.canary.late_alpha_share
        # the whole-bake test looks every judged minute, spending Pocock-like; the late window five times, OBF
        assert (metric.looks, metric.spending) == (judged, "pocock")
        assert (metric.late_looks, metric.late_spending) == (5, "obf")
    assert not policy.promote and policy.when_inconclusive == "CONTINUE"


def test_an_ab_experiment_ends_at_its_promotion_horizon_only() -> None:
    settings = DeploymentSettings.from_mapping({**DEV, "strategy": "ab", "wait_interval_seconds": 600})
    policy = canary_policy(settings, comparison(AB_TEST, 0.05), METRICS)
    assert all(
        m.last_look_minute is None and m.horizon_minutes is None and m.late_alpha_share == 0.0
        for m in policy.metrics.values()
    )
    assert policy.promote and policy.when_inconclusive == "ROLLBACK"


def test_an_ab_experiment_shown_non_inferior_is_judged_for_harm_only_afterwards() -> None:
    """Its later weights must not prove themselves again against a horizon the first weight used up."""
    settings = DeploymentSettings.from_mapping({**DEV, "strategy": "ab", "wait_interval_seconds": 600})
    policy = canary_policy(settings, comparison(AB_TEST, 0.25), METRICS, promoted=True)
    assert not policy.promote and policy.when_inconclusive == "CONTINUE"
    assert canary_policy(settings, comparison(AB_TEST, 0.25), METRICS).metrics == policy.metrics
