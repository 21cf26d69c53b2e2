"""The statistical policy of one deployment, from the environment's `endpoint.canary` settings.

The sequential design needs to know how much candidate traffic a full bake brings (its horizon): the expected
request rate times the candidate's traffic share times the bake. What a deployment that reaches its horizon without
a conclusion gets depends on who moves traffic: an A/B or shadow candidate advances only on PROMOTE, so an unproven
one is rolled back; in a blue/green update SageMaker completes the shift when the bake ends unless an alarm fires, so
the verdict there is a harm detector, and an inconclusive bake CONTINUEs (rolling back every deployment whose bake
is too short to prove non-inferiority would make the alarm useless).
"""

from __future__ import annotations

import math

from safedeploy.canary.fleets import Comparison, ComparisonKind
from safedeploy.guardrails.settings import DeploymentSettings
from safedeploy.stats import CanaryPolicy, MetricPolicy


def horizon(settings: DeploymentSettings, comparison: Comparison) -> int:
    bake_minutes = max(1.0, settings.wait_interval_seconds / 60)
    expected = settings.canary.expected_requests_per_minute * comparison.candidate_share * bake_minutes
    return max(settings.canary.min_samples, math.ceil(expected))


def canary_policy(settings: DeploymentSettings, comparison: Comparison, metric_names: set[str]) -> CanaryPolicy:
    canary = settings.canary
    common = {"alpha": canary.alpha, "looks": canary.looks, "min_samples": canary.min_samples}
    planned = horizon(settings, comparison)
    available = {
        "error_rate": MetricPolicy("proportion", "increase", canary.error_rate_margin, horizon=planned, **common),
        "latency_ms": MetricPolicy(
            "mean", "increase", canary.latency_margin_percent / 100, margin_type="relative", horizon=planned, **common
        ),
        "accuracy": MetricPolicy("proportion", "decrease", canary.accuracy_margin, horizon=planned, **common),
    }
    return CanaryPolicy(
        metrics={name: available[name] for name in sorted(metric_names)},
        when_inconclusive="CONTINUE" if comparison.kind is ComparisonKind.BLUE_GREEN else "ROLLBACK",
    )
