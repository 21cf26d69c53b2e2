"""The blue/green detector: a whole-bake test that looks every minute and stops early on harm from the start, and a
late window, judged with the scale of every minute so far, that carries the power for harm from mid-bake."""

from __future__ import annotations

import math

import numpy as np
import pytest

from safedeploy.stats import MedianSeries, MetricObservations, exit_probabilities, spending_boundaries
from safedeploy.stats.bake_plan import HarmDesign, log_median_harm_spec, plan_bake, rate_harm_spec
from safedeploy.stats.comparison_series import cumulative_comparison


def medians(minutes: int, per_minute: int, sigma: float, seed: int, late_shift: float = 0.0) -> MetricObservations:
    """Per-minute p50 of lognormal requests of two equal fleets; the candidate's log latency moves by `late_shift`
    from the middle minute on."""
    rng = np.random.default_rng(seed)
    logs = rng.normal(math.log(100.0), sigma, (2, minutes, per_minute))
    logs[1, minutes // 2 :] += late_shift
    counts = np.full(minutes, float(per_minute))
    return MetricObservations(*(MedianSeries(counts, np.exp(np.median(logs[fleet], axis=1))) for fleet in (0, 1)))


def scatter(data: MetricObservations, start: int, end: int) -> float:
    """Weighted squared deviations of the log ratios of minutes [start, end) from their own mean (equal weights)."""
    ratios = np.log(data.candidate.median[start:end]) - np.log(data.baseline.median[start:end])
    weight = 1.0 / (2.0 / data.baseline.sample_count[0])
    return float(weight * np.sum((ratios - ratios.mean()) ** 2))


def test_the_late_window_is_judged_with_the_scale_of_every_minute_so_far() -> None:
    """12 minutes, late window from minute 7: on its own minutes it would have no variance for its 6 minutes (10 are
    needed); pooled, it has one from the 10th minute of the bake on, with the degrees of freedom of both windows."""
    data = medians(12, 200, 0.8, seed=1)
    alone = cumulative_comparison(data, 10, start=6)
    pooled = cumulative_comparison(data, 10, start=6, pool_scale=True)
    assert not np.any(alone.valid)
    assert list(np.flatnonzero(pooled.valid)) == [9, 10, 11]
    assert pooled.degrees_of_freedom is not None and pooled.degrees_of_freedom[9] == (6 - 1) + (4 - 1)
    per_weight = (scatter(data, 0, 6) + scatter(data, 6, 10)) / 8
    total_weight = 4 * 200 / 2
    assert pooled.variance[9] == pytest.approx(per_weight / total_weight, rel=1e-9)


def test_a_harm_that_began_with_the_late_window_does_not_inflate_its_scale() -> None:
    """Each window's minutes scatter around their own mean, so a constant slowdown from the window's start leaves the
    scale exactly as it was, while scatter around one mean for the whole bake would grow with the slowdown."""
    same, slower = medians(20, 1000, 0.8, seed=2), medians(20, 1000, 0.8, seed=2, late_shift=math.log(1.2))
    pooled = [cumulative_comparison(data, 10, start=10, pool_scale=True) for data in (same, slower)]
    assert pooled[1].variance[-1] == pytest.approx(pooled[0].variance[-1], rel=1e-9)
    assert pooled[1].effect[-1] - pooled[0].effect[-1] == pytest.approx(math.log(1.2), rel=1e-9)
    whole = [cumulative_comparison(data, 10) for data in (same, slower)]
    assert whole[1].variance[-1] > 3.0 * whole[0].variance[-1]


@pytest.mark.parametrize("sigma", [0.5, 1.2])
def test_the_spread_of_log_latency_is_measured_from_the_minutes(sigma: float) -> None:
    """A log sample median of n requests has variance about (pi / 2) sigma^2 / n: the minutes' scatter gives sigma
    back (what the record compares with the declared spread)."""
    data = medians(60, 200, sigma, seed=3)
    measured = cumulative_comparison(data, 10).log_sigma
    assert measured is not None and measured[-1] == pytest.approx(sigma, rel=0.15)


def test_the_whole_bake_test_stops_earlier_than_obrien_fleming_on_harm_from_the_start() -> None:
    """At the whole-bake test's level (0.15 of 0.025) with a look every minute of 56, a harm the bake's end would
    show with power 0.9 is caught within the first 40 % of the bake ten times as often with Pocock-type spending
    (0.24 against 0.022), for 0.08 less power at the end, which the late window makes up."""
    looks = 56
    fractions = [k / looks for k in range(1, looks + 1)]
    alpha = 0.15 * 0.025
    drift = 2.67 + 1.28  # a fixed test at that level has power 0.9
    early = {}
    for spending in ("pocock", "obf"):
        boundaries = spending_boundaries(fractions, alpha, spending, 1)
        _, above = exit_probabilities(fractions, boundaries, None, drift)
        early[spending] = sum(above[: int(0.4 * looks)])
        assert sum(exit_probabilities(fractions, boundaries)[1]) == pytest.approx(alpha, rel=1e-3)
    assert early["pocock"] > 10 * early["obf"] and early["pocock"] > 0.2


def test_the_plan_sizes_the_bake_for_the_late_window_with_the_looks_the_bake_will_have() -> None:
    """A fleet of 3 at 1,000 requests a minute with heavy tails (sigma 1.5): the late window needs no minimum of
    its own, so the bake is what the power needs; the plan states the late window's power, and the bake is the
    shortest that is long enough for its own looks."""
    share = 1 / 3
    specs = [rate_harm_spec("error_rate", share, 0.01, 3.0), log_median_harm_spec("latency", share, 1.5, 0.2)]
    design = HarmDesign(0.05, 2, 0.85)
    plan = plan_bake(specs, design, 1000.0, share, 0.9)
    minutes = plan.needed_seconds // 60 - 3
    assert minutes < 21  # two 10-minute windows used to be the least
    per_minute = 1000.0 * share
    assert all(design.minutes_needed(spec, 0.9, minutes, per_minute) <= minutes for spec in specs)
    assert any(design.minutes_needed(spec, 0.9, minutes - 1, per_minute) > minutes - 1 for spec in specs)
    # the late window is the second half of the minutes rounded down: it holds its requests in whole minutes
    late = design.levels[1]
    late_samples = specs[1].group_samples(late, 0.9, design.looks(minutes)[1], "obf")
    assert (minutes // 2) * per_minute >= late_samples
    latency = plan.metrics[1]
    assert latency.late_power_at_bake is not None and latency.late_power_at_bake >= 0.9
    assert latency.power_at_bake >= latency.late_power_at_bake
