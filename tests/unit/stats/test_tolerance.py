"""A declared latency tolerance is the harm test's null: a candidate inside it is not rolled back however much
traffic arrives, one at the declared harm still is, and the plan pays for the smaller effect beyond it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from safedeploy.errors import ConfigError
from safedeploy.guardrails.bake import bake_plan
from safedeploy.guardrails.settings import DeploymentSettings
from safedeploy.stats import (
    CanaryObservations,
    CanaryPolicy,
    MedianSeries,
    MetricObservations,
    MetricPolicy,
    canary_verdict,
)

MINUTES = 40


def medians(ratio: float, per_minute: float, seed: int, sigma: float = 0.8) -> CanaryObservations:
    """Per-minute p50 of lognormal latency: log p50 is about normal with variance (pi / 2) sigma^2 / n."""
    rng = np.random.default_rng(seed)
    counts = rng.poisson(per_minute, (2, MINUTES)).astype(float)
    spread = np.sqrt(math.pi / 2 * sigma**2 / counts)
    logs = math.log(100.0) + rng.normal(0.0, spread)
    logs[1] += math.log(ratio)
    series = [MedianSeries(counts[fleet], np.exp(logs[fleet])) for fleet in (0, 1)]
    return CanaryObservations({"latency_p50_ms": MetricObservations(*series)})


def judged(data: CanaryObservations, tolerance: float) -> str:
    metric = MetricPolicy("median", "increase", 0.1, margin_type="relative", horizon_minutes=MINUTES,
                          tolerance=tolerance)  # fmt: skip
    return canary_verdict(data, CanaryPolicy({"latency_p50_ms": metric}, promote=False)).decision


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_slowdown_inside_the_tolerance_is_not_rolled_back_at_any_traffic(seed: int) -> None:
    """+5 % at 5,000 requests a minute per fleet: any-increase rolls it back, a 5 % tolerance does not."""
    busy = medians(1.05, 5000, seed)
    assert judged(busy, 0.0) == "ROLLBACK"
    assert judged(busy, 0.05) == "CONTINUE"


def test_the_declared_harm_beyond_the_tolerance_is_still_rolled_back() -> None:
    assert judged(medians(1.2, 300, seed=4), 0.05) == "ROLLBACK"


def test_tolerance_is_for_mean_and_median_metrics() -> None:
    with pytest.raises(ValueError, match="tolerance applies to mean and median metrics"):
        MetricPolicy("proportion", "increase", 0.01, horizon=100, tolerance=0.1)


def settings(**canary: object) -> DeploymentSettings:
    raw = {"instance_count": 3, "canary": {"expected_requests_per_minute": 1000, "latency_log_sigma": 1.5, **canary}}
    return DeploymentSettings.from_mapping(raw, "endpoint")


def test_the_plan_pays_for_the_effect_beyond_the_tolerance() -> None:
    """The latency test must catch log(1.2) - log(1.05) instead of log(1.2): about 1.9 times the requests."""
    plain, tolerant = bake_plan(settings()), bake_plan(settings(latency_tolerance_percent=5))
    needed = {plan: {m.name: m.samples_needed for m in plan.metrics} for plan in (plain, tolerant)}
    ratio = needed[tolerant]["latency_p50_ms"] / needed[plain]["latency_p50_ms"]
    assert ratio == pytest.approx((math.log(1.2) / (math.log(1.2) - math.log(1.05))) ** 2, rel=1e-6)
    assert tolerant.needed_seconds > plain.needed_seconds
    with pytest.raises(ConfigError, match="latency_tolerance_percent: 20 must be below latency_mde_percent"):
        settings(latency_tolerance_percent=20)
