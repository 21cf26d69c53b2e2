"""Monte Carlo with fixed seeds: the engine's sequential procedures keep their error rates and their power.

Small versions (seconds); the large side-by-side runs are in bench/canary_engine.py. Bounds are the nominal rate
plus or minus three Monte Carlo standard errors.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from safedeploy.stats import (
    CanaryObservations,
    CanaryPolicy,
    MetricPolicy,
    always_valid_p_values,
    canary_verdict,
    group_sequential_design,
    spending_boundaries,
)
from safedeploy.stats.normal import upper_quantile

pytestmark = pytest.mark.slow
ALPHA, POWER = 0.05, 0.9


def tolerance(rate: float, reps: int) -> float:
    return 3.0 * math.sqrt(rate * (1.0 - rate) / reps)


def brownian_z(rng: np.random.Generator, reps: int, looks: int, drift: float) -> np.ndarray:
    """Z_k at equally spaced looks for a statistic with drift `drift` at full information."""
    increments = rng.normal(drift / looks, math.sqrt(1.0 / looks), (reps, looks))
    fractions = np.arange(1, looks + 1) / looks
    return np.cumsum(increments, axis=1) / np.sqrt(fractions)


@pytest.mark.parametrize("looks", [5, 10, 20])
def test_group_sequential_false_positive_rate_and_power(looks: int) -> None:
    rng = np.random.default_rng(looks)
    reps = 6000
    boundaries = np.array(spending_boundaries([k / looks for k in range(1, looks + 1)], ALPHA, "obf", sides=1))
    design = group_sequential_design(looks, ALPHA, POWER, "obf", sides=1)
    drift = (upper_quantile(ALPHA) + upper_quantile(1 - POWER)) * math.sqrt(design.inflation)
    false_positive = (brownian_z(rng, reps, looks, 0.0) >= boundaries).any(axis=1).mean()
    power = (brownian_z(rng, reps, looks, drift) >= boundaries).any(axis=1).mean()
    assert false_positive <= ALPHA + tolerance(ALPHA, reps)
    assert power >= POWER - tolerance(POWER, reps)


def test_msprt_with_100_unplanned_looks_keeps_the_false_positive_rate() -> None:
    rng = np.random.default_rng(100)
    reps, looks, per_look = 4000, 100, 50
    n = per_look * np.arange(1, looks + 1)
    difference = np.cumsum(rng.normal(0.0, math.sqrt(2 * per_look), (looks, reps)), axis=0) / n[:, None]
    variance = np.broadcast_to((2.0 / n)[:, None], difference.shape)
    p_values = always_valid_p_values(difference, variance, tau=0.1)
    assert (p_values[-1] <= ALPHA).mean() <= ALPHA + tolerance(ALPHA, reps)


def guarded_policy(**latency: object) -> CanaryPolicy:
    return CanaryPolicy(
        {
            "error_rate": MetricPolicy(kind="proportion", harm="increase", margin=0.005, horizon=6000),
            "latency_ms": MetricPolicy(kind="mean", harm="increase", horizon=6000, **latency),  # type: ignore[arg-type]
            "accuracy": MetricPolicy(kind="proportion", harm="decrease", margin=0.03, horizon=1800),
        }
    )


def test_the_verdict_rarely_rolls_back_an_equal_candidate(fleets: Callable[..., CanaryObservations]) -> None:
    """Three metrics, per-minute aggregates, latency variance from per-minute means: false harm <= alpha."""
    reps = 300
    policy = guarded_policy(margin=5.0)
    false_harm = sum(
        any(d["status"] == "harmful" for d in canary_verdict(fleets(75, seed=seed), policy).metrics.values())
        for seed in range(reps)
    )
    assert false_harm / reps <= ALPHA + tolerance(ALPHA, reps)


@pytest.mark.parametrize("with_sum_of_squares", [False, True])
def test_the_verdict_catches_the_design_effect_with_the_design_power(
    fleets: Callable[..., CanaryObservations], with_sum_of_squares: bool
) -> None:
    """Latency alone, at the effect a 10-look plan with 90 % power targets (6,000 candidate, 54,000 baseline)."""
    reps = 500
    design = group_sequential_design(10, ALPHA, POWER, "obf", sides=1)
    standard_error = 30.0 * math.sqrt((1 / 6000 + 1 / 54000) * design.inflation)
    effect = (upper_quantile(ALPHA) + upper_quantile(1 - POWER)) * standard_error
    metric = MetricPolicy(kind="mean", harm="increase", margin=1e-9, horizon=6000)
    policy = CanaryPolicy({"latency_ms": metric}, when_inconclusive="CONTINUE")
    caught = 0
    for seed in range(reps):
        observations = fleets(
            62, seed=seed, with_sum_of_squares=with_sum_of_squares, latency_ms=(120.0, 120.0 + effect)
        )
        latency_only = CanaryObservations({"latency_ms": observations.metrics["latency_ms"]})
        caught += canary_verdict(latency_only, policy).decision == "ROLLBACK"
    assert caught / reps >= POWER - tolerance(POWER, reps)
