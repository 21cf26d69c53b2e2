"""The statistical policy of one deployment, from the environment's `endpoint.canary` settings.

Blue/green (canary, linear, rolling): SageMaker completes the shift when the bake ends unless an alarm fires, so
the verdict is a harm detector whose horizon is the bake's time, up to the last minute a ROLLBACK still reaches
SageMaker in time: its tests look every minute and spend alpha by elapsed time whatever the traffic, so the
whole bake is watched at any rate; the whole-bake test stops early on harm present from the start, a late window
catches a candidate that turns bad mid-bake, and an inconclusive bake CONTINUEs. A/B and shadow: the candidate
advances only on PROMOTE, so the horizon is sized for an equal candidate to show non-inferiority on every metric
with the declared power, and an unproven candidate is rolled back there.

Latency is judged on the per-minute median (p50) where the reader chose it for the deployment, on the mean otherwise.
"""

from __future__ import annotations

from typing import Any

from safedeploy.canary.fleets import Comparison
from safedeploy.canary.metrics import CANARY_METRICS, PLANNED, CanaryMetric
from safedeploy.decision import Decision
from safedeploy.guardrails.canary_settings import CanarySettings
from safedeploy.guardrails.settings import DeploymentSettings
from safedeploy.stats import CanaryObservations, CanaryPolicy, MetricPolicy
from safedeploy.stats.bake_plan import (
    LATE_WINDOW_LOOKS,
    LATE_WINDOW_SPENDING,
    WHOLE_BAKE_SPENDING,
    bake_looks,
    horizon_samples,
    judged_minutes,
    non_inferiority_samples,
)


def horizon(settings: DeploymentSettings, comparison: Comparison) -> int:
    """Candidate samples at information fraction 1 for this deployment's harm (and non-inferiority) tests."""
    canary = settings.canary
    if comparison.strategy.guardrails:  # SageMaker's bake: its samples are the bake's
        planned = horizon_samples(
            canary.expected_requests_per_minute, comparison.candidate_share, settings.wait_interval_seconds
        )
    else:
        planned = promotion_horizon(canary, comparison.candidate_share)
    return max(canary.min_samples, planned)


def promotion_horizon(canary: CanarySettings, share: float) -> int:
    """Samples for an equal candidate to show non-inferiority on every planned metric with the declared power."""
    per_metric_power = canary.power ** (1.0 / len(PLANNED))  # all must show it
    share = min(share, 0.99)
    needed = []
    for planning in PLANNED:
        spread, margin = planning.non_inferiority(canary, share)
        needed.append(non_inferiority_samples(spread, margin, canary.alpha, per_metric_power, canary.looks))
    return max(needed)


def _metric_policy(
    metric: CanaryMetric, canary: CanarySettings, common: dict[str, Any], harm: dict[str, Any]
) -> MetricPolicy:
    """`harm` for a metric judged over the bake (horizon minutes, late window), `common` otherwise."""
    arguments = dict(harm if metric.bake_judged else common)
    if metric.relative:
        arguments["margin_type"] = "relative"
    if metric.tolerance is not None:
        arguments["tolerance"] = metric.tolerance.of(canary)
    return MetricPolicy(metric.kind, metric.harm, metric.margin.of(canary), **arguments)


def canary_policy(
    settings: DeploymentSettings, comparison: Comparison, metric_names: set[str], promoted: bool = False
) -> CanaryPolicy:
    """`promoted`: an A/B test already showed non-inferiority (a PROMOTE record of this deployment); its later
    weights are then judged for harm only, like a blue/green bake, instead of having to prove themselves again
    against a horizon the first weight already used up."""
    canary = settings.canary
    planned = horizon(settings, comparison)
    blue_green = comparison.strategy.guardrails  # SageMaker promotes after the bake: harm is all there is to judge
    common = {"alpha": canary.alpha, "looks": canary.looks, "min_samples": canary.min_samples, "horizon": planned}
    harm = common | {"late_alpha_share": canary.late_alpha_share if blue_green else 0.0}
    if blue_green:  # the horizon is the bake's time: up to the last minute whose ROLLBACK still stops the shift
        minutes = judged_minutes(settings.wait_interval_seconds)
        harm |= {
            "horizon_minutes": minutes,
            "looks": bake_looks(minutes),
            "spending": WHOLE_BAKE_SPENDING,
            "late_spending": LATE_WINDOW_SPENDING,
            "late_looks": LATE_WINDOW_LOOKS,
        }
    available = {metric.name: metric for metric in CANARY_METRICS}
    guarded = set(metric_names) & set(available)
    for name in list(guarded):
        if available[name].supersedes:
            guarded.discard(available[name].supersedes)
    harm_only = blue_green or promoted
    return CanaryPolicy(
        metrics={name: _metric_policy(available[name], canary, common, harm) for name in sorted(guarded)},
        when_inconclusive=Decision.CONTINUE if harm_only else Decision.ROLLBACK,
        promote=not harm_only,
    )


def guarded(observations: CanaryObservations, policy: CanaryPolicy) -> CanaryObservations:
    """The observations of the metrics the policy guards (the mean latency is read but not judged beside p50)."""
    return CanaryObservations({name: observations.metrics[name] for name in policy.metrics})
