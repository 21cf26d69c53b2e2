"""canary_verdict on CloudWatch-style per-minute aggregates: the decisions a canary deployment acts on."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from safedeploy.stats import (
    CanaryObservations,
    CanaryPolicy,
    CountSeries,
    MetricObservations,
    MetricPolicy,
    canary_verdict,
)

Fleets = Callable[..., CanaryObservations]


def guarded_policy(**overrides: Any) -> CanaryPolicy:
    """100 candidate requests a minute reach the 6,000-sample horizons after an hour."""
    metrics = {
        "error_rate": MetricPolicy(kind="proportion", harm="increase", margin=0.005, horizon=6000),
        "latency_ms": MetricPolicy(kind="mean", harm="increase", margin=5.0, horizon=6000),
        "accuracy": MetricPolicy(kind="proportion", harm="decrease", margin=0.03, horizon=1800),
    }
    return CanaryPolicy(metrics, **overrides)


def strict_json(verdict: Any) -> dict[str, Any]:
    return json.loads(json.dumps(verdict.to_dict(), allow_nan=False))


def test_an_equal_candidate_is_promoted_once_every_metric_is_non_inferior(fleets: Fleets) -> None:
    verdict = canary_verdict(fleets(75, seed=2), guarded_policy())
    assert verdict.decision == "PROMOTE"
    assert {details["status"] for details in verdict.metrics.values()} == {"non-inferior"}
    assert verdict.reasons[0].startswith("every guarded metric is non-inferior")


@pytest.mark.parametrize(
    ("truth", "harmful"),
    [
        ({"error_rate": (0.01, 0.03)}, "error_rate"),
        ({"latency_ms": (120.0, 135.0)}, "latency_ms"),
        ({"accuracy": (0.9, 0.8)}, "accuracy"),
    ],
)
def test_a_harmful_candidate_is_rolled_back_and_the_metric_named(
    fleets: Fleets, truth: dict[str, tuple[float, float]], harmful: str
) -> None:
    verdict = canary_verdict(fleets(75, seed=3, **truth), guarded_policy())
    assert verdict.decision == "ROLLBACK"
    assert verdict.metrics[harmful]["status"] == "harmful"
    assert verdict.metrics[harmful]["statistic"] >= verdict.metrics[harmful]["boundary"]
    assert any(reason.startswith(f"{harmful}: the") and "is harmful" in reason for reason in verdict.reasons)


def test_sums_of_squares_are_used_when_published(fleets: Fleets) -> None:
    verdict = canary_verdict(fleets(75, seed=4, with_sum_of_squares=True, latency_ms=(120.0, 135.0)), guarded_policy())
    assert verdict.metrics["latency_ms"]["status"] == "harmful"


def test_a_better_accuracy_is_not_harm(fleets: Fleets) -> None:
    verdict = canary_verdict(fleets(75, seed=5, accuracy=(0.85, 0.95)), guarded_policy())
    assert verdict.metrics["accuracy"]["status"] == "non-inferior"
    assert verdict.metrics["accuracy"]["statistic"] < 0


def test_a_few_minutes_of_data_is_too_little_for_any_decision(fleets: Fleets) -> None:
    verdict = canary_verdict(fleets(5, seed=6, error_rate=(0.01, 0.02)), guarded_policy())
    assert verdict.decision == "CONTINUE"
    assert {details["status"] for details in verdict.metrics.values()} == {"insufficient data"}


def test_no_data_is_never_promoted() -> None:
    empty = CanaryObservations({})
    verdict = canary_verdict(empty, guarded_policy())
    assert (verdict.decision, verdict.period) == ("CONTINUE", None)
    assert {details["status"] for details in verdict.metrics.values()} == {"no data"}


def test_a_guarded_metric_without_data_blocks_promotion(fleets: Fleets) -> None:
    observations = fleets(75, seed=2)
    without_accuracy = CanaryObservations({k: v for k, v in observations.metrics.items() if k != "accuracy"})
    verdict = canary_verdict(without_accuracy, guarded_policy())
    assert verdict.decision == "CONTINUE"
    assert verdict.metrics["accuracy"]["status"] == "no data"
    assert "accuracy: no data yet" in verdict.reasons


def test_promotion_waits_for_the_minimum_sample(fleets: Fleets) -> None:
    policy = guarded_policy()
    patient = replace(
        policy, metrics={**policy.metrics, "accuracy": replace(policy.metrics["accuracy"], min_samples=10**6)}
    )
    verdict = canary_verdict(fleets(75, seed=2), patient)
    assert verdict.decision == "CONTINUE"
    assert "waiting for 1000000 samples per fleet" in " ".join(verdict.reasons)


def test_reaching_the_horizon_without_non_inferiority_rolls_back_unless_told_to_continue(fleets: Fleets) -> None:
    policy = guarded_policy()
    strict = replace(
        policy, metrics={**policy.metrics, "latency_ms": replace(policy.metrics["latency_ms"], margin=0.01)}
    )
    verdict = canary_verdict(fleets(75, seed=2), strict)
    assert verdict.decision == "ROLLBACK"
    assert verdict.metrics["latency_ms"]["status"] == "inconclusive"
    assert canary_verdict(fleets(75, seed=2), replace(strict, when_inconclusive="CONTINUE")).decision == "CONTINUE"


def test_the_verdict_a_minute_later_replays_the_same_decision(
    fleets: Fleets, truncated: Callable[[CanaryObservations, int], CanaryObservations]
) -> None:
    observations = fleets(75, seed=7, error_rate=(0.01, 0.025))
    verdict = canary_verdict(observations, guarded_policy())
    assert verdict.decision == "ROLLBACK" and verdict.period is not None
    assert canary_verdict(truncated(observations, verdict.period + 1), guarded_policy()).decision == "ROLLBACK"
    assert canary_verdict(truncated(observations, verdict.period), guarded_policy()).decision == "CONTINUE"


@pytest.mark.parametrize(("truth", "decision"), [({"error_rate": (0.01, 0.03)}, "ROLLBACK"), ({}, "PROMOTE")])
def test_always_valid_mode_decides_too(fleets: Fleets, truth: dict[str, Any], decision: str) -> None:
    verdict = canary_verdict(fleets(120, seed=8, **truth), guarded_policy(sequential="msprt"))
    assert verdict.decision == decision
    assert all(details["boundary"] is None for details in verdict.metrics.values())


def single_look_counts(events_baseline: int, events_candidate: int) -> MetricObservations:
    return MetricObservations(CountSeries([events_baseline], [10_000]), CountSeries([events_candidate], [10_000]))


@pytest.mark.parametrize(("family", "harmful"), [("holm", {"a", "b"}), ("bonferroni", {"a"})])
def test_holm_steps_down_where_bonferroni_does_not(family: str, harmful: set[str]) -> None:
    """One look at full information: boundaries are z(0.025) = 1.96 first, then z(0.05) = 1.645 under Holm.

    Metric b's exact conditional z is about 1.79: harmful only once metric a's clear harm has been rejected.
    """
    metric = MetricPolicy(kind="proportion", harm="increase", margin=0.01, horizon=10_000, looks=1)
    policy = CanaryPolicy({"a": metric, "b": metric}, family=family)  # type: ignore[arg-type]
    observations = CanaryObservations({"a": single_look_counts(100, 200), "b": single_look_counts(100, 128)})
    verdict = canary_verdict(observations, policy)
    assert verdict.decision == "ROLLBACK"
    assert {name for name, details in verdict.metrics.items() if details["status"] == "harmful"} == harmful
    b = verdict.metrics["b"]
    assert b["boundary"] == pytest.approx(1.645 if family == "holm" else 1.960, abs=1e-3)
    assert (b["statistic"] >= b["boundary"]) == (family == "holm")


def test_verdicts_are_strict_json_and_dicts_are_accepted(fleets: Fleets) -> None:
    for observations in (fleets(3, seed=9), fleets(75, seed=9), fleets(75, seed=9, error_rate=(0.01, 0.04))):
        from_objects = canary_verdict(observations, guarded_policy())
        from_json = canary_verdict(observations.to_dict(), guarded_policy().to_dict())
        assert strict_json(from_objects) == strict_json(from_json)
        assert set(strict_json(from_objects)) == {"decision", "reasons", "metrics", "period"}


def test_observations_without_a_policy_are_refused(fleets: Fleets) -> None:
    policy = guarded_policy()
    only_errors = CanaryPolicy({"error_rate": policy.metrics["error_rate"]})
    with pytest.raises(ValueError, match="observations for accuracy, latency_ms have no policy"):
        canary_verdict(fleets(10), only_errors)


def test_a_kind_mismatch_is_named(fleets: Fleets) -> None:
    policy = guarded_policy()
    wrong = replace(policy, metrics={**policy.metrics, "latency_ms": replace(policy.metrics["error_rate"])})
    with pytest.raises(ValueError, match="metric latency_ms: the policy says proportion, the observations mean"):
        canary_verdict(fleets(10), wrong)
