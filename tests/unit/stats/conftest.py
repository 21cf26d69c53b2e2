"""Synthetic CloudWatch-style fleet aggregates for verdict tests (per-minute counts, means, events)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from safedeploy.stats import CanaryObservations, CountSeries, MeanSeries, MetricObservations


@dataclass(frozen=True)
class Fleets:
    """Per-minute traffic of the two fleets and the true metric values behind it."""

    minutes: int
    baseline_per_minute: float = 900.0
    candidate_per_minute: float = 100.0
    error_rate: tuple[float, float] = (0.01, 0.01)
    latency_ms: tuple[float, float] = (120.0, 120.0)
    latency_sd: float = 30.0
    accuracy: tuple[float, float] = (0.9, 0.9)
    feedback_share: float = 0.3


def simulate_fleets(fleets: Fleets, seed: int, with_sum_of_squares: bool = False) -> CanaryObservations:
    rng = np.random.default_rng(seed)
    counts = [rng.poisson(rate, fleets.minutes).astype(float) for rate in (
        fleets.baseline_per_minute, fleets.candidate_per_minute)]  # fmt: skip

    def latency(n: np.ndarray, mean: float) -> MeanSeries:
        means = mean + rng.normal(0.0, fleets.latency_sd / np.sqrt(np.maximum(n, 1.0)))
        squares = n * (fleets.latency_sd**2 + means**2) if with_sum_of_squares else None
        return MeanSeries(n, np.where(n > 0, means, np.nan), squares)

    def events(n: np.ndarray, rate: float) -> CountSeries:
        return CountSeries(rng.binomial(n.astype(int), rate).astype(float), n)

    feedback = [rng.binomial(n.astype(int), fleets.feedback_share).astype(float) for n in counts]
    return CanaryObservations(
        {
            "error_rate": MetricObservations(*(events(n, r) for n, r in zip(counts, fleets.error_rate, strict=True))),
            "latency_ms": MetricObservations(*(latency(n, m) for n, m in zip(counts, fleets.latency_ms, strict=True))),
            "accuracy": MetricObservations(*(events(n, r) for n, r in zip(feedback, fleets.accuracy, strict=True))),
        }
    )


def first_periods(observations: CanaryObservations, periods: int) -> CanaryObservations:
    """The same canary as the Lambda saw it `periods` minutes in."""
    document = observations.to_dict()
    for metric in document["metrics"].values():
        for fleet in metric.values():
            for key, values in fleet.items():
                fleet[key] = values[:periods]
    return CanaryObservations.from_dict(document)


@pytest.fixture
def fleets() -> Callable[..., CanaryObservations]:
    """`fleets(minutes=60, seed=1, **truth)` builds observations; truth overrides the `Fleets` defaults."""

    def build(minutes: int, seed: int = 1, with_sum_of_squares: bool = False, **truth: object) -> CanaryObservations:
        return simulate_fleets(Fleets(minutes, **truth), seed, with_sum_of_squares)  # type: ignore[arg-type]

    return build


@pytest.fixture
def truncated() -> Callable[[CanaryObservations, int], CanaryObservations]:
    return first_periods
