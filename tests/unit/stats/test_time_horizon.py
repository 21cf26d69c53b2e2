"""A blue/green bake's horizon is time: looks at planned minutes, alpha spent by elapsed time, whatever the traffic."""

from __future__ import annotations

import numpy as np
import pytest

from safedeploy.stats import (
    CanaryObservations,
    CanaryPolicy,
    MeanSeries,
    MetricObservations,
    MetricPolicy,
    canary_verdict,
    exit_probabilities,
    spending_boundaries,
)
from safedeploy.stats.comparison_series import cumulative_comparison
from safedeploy.stats.monitors import GroupSequentialMonitor
from safedeploy.stats.spending import cumulative_alpha

BAKE_MINUTES = 40
DECLARED_PER_MINUTE = 100.0


def latency_minutes(per_minute: float, harm_from: int | None, seed: int, shift: float = 30.0) -> MetricObservations:
    """Per-minute latency aggregates (with sums of squares) of two equal fleets; the candidate is slower by `shift`
    from minute `harm_from` on."""
    rng = np.random.default_rng(seed)
    counts = rng.poisson(per_minute, (2, BAKE_MINUTES)).astype(float)
    means = 100.0 + rng.normal(0.0, 30.0 / np.sqrt(counts))
    if harm_from is not None:
        means[1, harm_from:] += shift
    squares = counts * (30.0**2 + means**2)
    series = [MeanSeries(counts[fleet], means[fleet], squares[fleet]) for fleet in (0, 1)]
    return MetricObservations(*series)


def policy(**timing: int) -> MetricPolicy:
    return MetricPolicy("mean", "increase", 5.0, looks=10, late_alpha_share=0.5, **timing)


def test_calendar_spending_equals_information_spending_when_they_agree() -> None:
    """Only the ratios of the information matter, so giving it relative to the latest look changes nothing."""
    fractions = [0.1, 0.25, 0.5, 0.8, 1.0]
    same = spending_boundaries(fractions, 0.05, "obf", 1, spending_fractions=fractions)
    assert same == pytest.approx(spending_boundaries(fractions, 0.05, "obf", 1), abs=1e-9)
    relative = [value / 0.8 for value in fractions[:4]]
    early = spending_boundaries(relative, 0.05, "obf", 1, spending_fractions=fractions[:4])
    assert early == pytest.approx(same[:4], abs=1e-6)


def test_each_timed_look_spends_what_elapsed_time_releases_with_the_correlation_of_uneven_traffic() -> None:
    """Traffic three times heavier in the first half: the information is not proportional to time, yet each look
    spends exactly the alpha of its minute (exact integration, no simulation). Traffic does not depend on the
    statistic, so given any traffic the chance of a false rollback is exactly alpha, hence also over all traffic."""
    times = [0.2, 0.4, 0.6, 0.8, 1.0]
    information = np.array([3.0, 6.0, 7.0, 8.0, 9.0]) / 9.0
    upper = spending_boundaries(list(information), 0.05, "obf", 1, spending_fractions=times)
    _, above = exit_probabilities(list(information), upper)
    assert np.cumsum(above) == pytest.approx(cumulative_alpha("obf", 0.05, times), abs=2e-6)


def test_the_looks_cover_the_whole_bake_at_three_times_the_declared_traffic() -> None:
    """A sample horizon of the declared traffic is spent by minute 14 at three times the rate; a time horizon looks
    every 4 minutes to the bake's last minute, and its late window runs over the second half of the minutes."""
    data = latency_minutes(3 * DECLARED_PER_MINUTE, None, seed=1)
    comparison = cumulative_comparison(data, 10)
    by_samples = GroupSequentialMonitor(comparison, policy(horizon=int(DECLARED_PER_MINUTE * BAKE_MINUTES)))
    assert by_samples.look_periods[-1] <= 13
    by_time = GroupSequentialMonitor(comparison, policy(horizon_minutes=BAKE_MINUTES), late=comparison)
    assert list(by_time.look_periods) == list(range(3, BAKE_MINUTES, 4))
    assert by_time.spent_at == pytest.approx([k / 10 for k in range(1, 11)])
    assert by_time.late is not None and by_time.late.look_periods[-1] == BAKE_MINUTES - 1
    assert by_time.late.look_periods[0] > BAKE_MINUTES // 2


def test_a_harm_from_minute_30_at_three_times_the_traffic_is_caught_only_with_a_time_horizon() -> None:
    data = CanaryObservations({"latency_ms": latency_minutes(3 * DECLARED_PER_MINUTE, 30, seed=2, shift=6.0)})
    by_time = canary_verdict(data, CanaryPolicy({"latency_ms": policy(horizon_minutes=BAKE_MINUTES)}, promote=False))
    assert by_time.decision == "ROLLBACK" and by_time.period is not None and by_time.period >= 30
    samples = policy(horizon=int(DECLARED_PER_MINUTE * BAKE_MINUTES))
    by_samples = canary_verdict(data, CanaryPolicy({"latency_ms": samples}, promote=False))
    assert by_samples.decision == "CONTINUE"
