"""Running (cumulative) candidate-versus-baseline estimates of one metric after every period.

Because a verdict sees every period's aggregates, it can recompute the statistic at any earlier look exactly: the
stateless per-minute Lambda therefore reproduces the same sequential test a stateful monitor would have run.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

from safedeploy.stats.normal import MEDIAN_VARIANCE_FACTOR, FloatArray, normal_equivalent_of_t
from safedeploy.stats.observations import CountSeries, MeanSeries, MedianSeries, MetricObservations, Series
from safedeploy.stats.stratified_counts import stratified_harm_z

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, eq=False)
class CumulativeComparison:
    """Arrays with one value per period; entries where `valid` is False are NaN.

    `null_variance` is the variance of `effect` if the fleets were alike (pooled for rates): the harm test's.
    `adjusted_effect` and `variance` serve non-inferiority and intervals; for rates they are Agresti-Caffo
    (one success and one failure added per fleet), which keeps them defined and well-behaved at zero errors.
    `degrees_of_freedom` is set when the variance comes from few per-period means, making statistics t-like.
    `harm_z`, when set, is the harm statistic already on the normal scale (the exact stratified count test), and
    `dispersion` the factor by which clustering inflated the count variances. `log_sigma` (medians) is the spread
    of log latency the minutes' scatter implies, to compare with what the bake was planned for.
    """

    n_baseline: FloatArray
    n_candidate: FloatArray
    baseline: FloatArray
    candidate: FloatArray
    effect: FloatArray
    null_variance: FloatArray
    adjusted_effect: FloatArray
    variance: FloatArray
    valid: BoolArray
    degrees_of_freedom: FloatArray | None = None
    harm_z: FloatArray | None = None
    dispersion: FloatArray | None = None
    log_sigma: FloatArray | None = None

    def standardize(self, t: FloatArray) -> FloatArray:
        """Statistics on the normal scale the boundaries use (Welch-Satterthwaite degrees of freedom)."""
        return t if self.degrees_of_freedom is None else normal_equivalent_of_t(t, self.degrees_of_freedom)

    def first_period_with(self, minimum_samples: int) -> int | None:
        reached = np.flatnonzero((self.n_baseline >= minimum_samples) & (self.n_candidate >= minimum_samples))
        return int(reached[0]) if reached.size else None


@dataclass(frozen=True)
class EarlierScatter:
    """What the periods before a late window say about the scale: the weighted squared deviations from their own
    mean, and how many periods with data gave them (per fleet for means, one value for paired medians)."""

    scatter: tuple[float, ...]
    periods: tuple[int, ...]


NO_EARLIER_SCATTER = EarlierScatter((0.0, 0.0), (0, 0))


def cumulative_comparison(
    observations: MetricObservations,
    min_periods: int,
    start: int = 0,
    harm_sign: float = 1.0,
    pool_scale: bool = False,
) -> CumulativeComparison:
    """Running estimates from period `start` on (a late window); earlier entries are invalid, so indexes align.

    `harm_sign` orients the exact count test: -1 (fewer successes hurt) tests the candidate's failures instead.
    `pool_scale`: a late window's per-request scale of a mean or median (estimated from how periods scatter) also
    uses the earlier periods, each window's periods around their own mean, so a harm that began at `start` does
    not inflate it; the window can then be judged from its first minutes on, with the degrees of freedom of all.
    """
    baseline, candidate = observations.baseline, observations.candidate
    earlier = NO_EARLIER_SCATTER
    if start:
        if pool_scale:
            before = slice(None, start)
            earlier = _earlier_scatter(_periods(baseline, before), _periods(candidate, before))
        after = slice(start, None)
        baseline, candidate = _periods(baseline, after), _periods(candidate, after)
    if isinstance(baseline, CountSeries) and isinstance(candidate, CountSeries):
        comparison = _proportions(baseline, candidate, harm_sign)
    elif isinstance(baseline, MeanSeries) and isinstance(candidate, MeanSeries):
        comparison = _means(baseline, candidate, min_periods, earlier)
    elif isinstance(baseline, MedianSeries) and isinstance(candidate, MedianSeries):
        comparison = _log_medians(baseline, candidate, min_periods, earlier)
    else:
        raise ValueError("baseline and candidate must be the same kind of series")
    return _padded(comparison, start) if start else comparison


def _weighted_scatter(weights: FloatArray, values: FloatArray) -> float:
    """Sum of w (x - weighted mean)^2 over entries with weight."""
    used = weights > 0
    if not np.any(used):
        return 0.0
    w, x = weights[used], values[used]
    centre = float(np.sum(w * x) / np.sum(w))
    return float(np.sum(w * (x - centre) ** 2))


def _earlier_scatter(baseline: Series, candidate: Series) -> EarlierScatter:
    if isinstance(baseline, MedianSeries) and isinstance(candidate, MedianSeries):
        ratio, weight, paired = _log_ratios(baseline, candidate)
        return EarlierScatter((_weighted_scatter(weight, ratio),), (int(np.sum(paired)),))
    if isinstance(baseline, MeanSeries) and isinstance(candidate, MeanSeries):
        fleets = (baseline, candidate)
        return EarlierScatter(
            tuple(_weighted_scatter(fleet.sample_count, fleet.mean) for fleet in fleets),
            tuple(int(np.sum(fleet.sample_count > 0)) for fleet in fleets),
        )
    return NO_EARLIER_SCATTER


def _periods(series: Series, part: slice) -> Series:
    """The same series over some of its periods."""
    if isinstance(series, CountSeries):
        return CountSeries(series.events[part], series.trials[part])
    if isinstance(series, MedianSeries):
        return MedianSeries(series.sample_count[part], series.median[part])
    squares = None if series.sum_of_squares is None else series.sum_of_squares[part]
    return MeanSeries(series.sample_count[part], series.mean[part], squares)


def _padded(comparison: CumulativeComparison, start: int) -> CumulativeComparison:
    def pad(values: np.ndarray | None, fill: float | bool) -> np.ndarray | None:
        return None if values is None else np.concatenate([np.full(start, fill, dtype=values.dtype), values])

    names = [item.name for item in fields(CumulativeComparison)]
    filled = {name: pad(getattr(comparison, name), np.nan) for name in names if name != "valid"}
    filled |= {"n_baseline": pad(comparison.n_baseline, 0.0), "n_candidate": pad(comparison.n_candidate, 0.0)}
    return CumulativeComparison(valid=pad(comparison.valid, False), **filled)  # type: ignore[arg-type]


def _masked(values: FloatArray, valid: BoolArray) -> FloatArray:
    return np.where(valid, values, np.nan)


def _proportions(baseline: CountSeries, candidate: CountSeries, harm_sign: float) -> CumulativeComparison:
    events_a, trials_a = np.cumsum(baseline.events), np.cumsum(baseline.trials)
    events_b, trials_b = np.cumsum(candidate.events), np.cumsum(candidate.trials)
    valid = (trials_a > 0) & (trials_b > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate_a, rate_b = events_a / trials_a, events_b / trials_b
        pooled = (events_a + events_b) / (trials_a + trials_b)
        null_variance = pooled * (1.0 - pooled) * (1.0 / trials_a + 1.0 / trials_b)
    adjusted_a, adjusted_b = (events_a + 1.0) / (trials_a + 2.0), (events_b + 1.0) / (trials_b + 2.0)
    variance = adjusted_a * (1.0 - adjusted_a) / (trials_a + 2.0) + adjusted_b * (1.0 - adjusted_b) / (trials_b + 2.0)
    harmful_a, harmful_b = (
        (baseline.events, candidate.events)
        if harm_sign > 0
        else (baseline.trials - baseline.events, candidate.trials - candidate.events)
    )
    harm_z, dispersion = stratified_harm_z(harmful_a, baseline.trials, harmful_b, candidate.trials)
    return CumulativeComparison(
        n_baseline=trials_a,
        n_candidate=trials_b,
        baseline=_masked(rate_a, valid),
        candidate=_masked(rate_b, valid),
        effect=_masked(rate_b - rate_a, valid),
        null_variance=_masked(null_variance, valid),
        adjusted_effect=_masked(adjusted_b - adjusted_a, valid),
        variance=_masked(variance * dispersion, valid),
        valid=valid,
        harm_z=_masked(harm_z, valid),
        dispersion=dispersion,
    )


def _fleet_moments(
    series: MeanSeries, centre: float, min_periods: int, earlier_scatter: float = 0.0, earlier_periods: int = 0
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Cumulative count, mean, per-request variance (NaN until estimable) and that variance's degrees of freedom.
    `earlier_*`: the scatter of the periods before a late window, pooled in (one degree of freedom per window)."""
    counts = series.sample_count
    count = np.cumsum(counts)
    centred_sum = np.cumsum(counts * (series.mean - centre))
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = centre + centred_sum / count
        if series.sum_of_squares is not None:
            raw_sum = np.cumsum(counts * series.mean)
            within = np.cumsum(series.sum_of_squares) - raw_sum * raw_sum / count
            variance = np.where(count >= 2, within / (count - 1.0), np.nan)
            freedom = count - 1.0
        else:
            periods_with_data = np.cumsum(counts > 0)
            scatter = np.cumsum(counts * (series.mean - centre) ** 2) - centred_sum * centred_sum / count
            freedom = periods_with_data - 1.0 + max(earlier_periods - 1, 0)
            pooled = periods_with_data + earlier_periods
            variance = np.where(pooled >= min_periods, (scatter + earlier_scatter) / freedom, np.nan)
    return count, mean, np.maximum(variance, 0.0), freedom


def _means(
    baseline: MeanSeries, candidate: MeanSeries, min_periods: int, earlier: EarlierScatter = NO_EARLIER_SCATTER
) -> CumulativeComparison:
    with_data = np.flatnonzero(baseline.sample_count > 0)
    centre = float(baseline.mean[with_data[0]]) if with_data.size else 0.0  # centring avoids cancellation
    (scatter_a, scatter_b), (periods_a, periods_b) = earlier.scatter, earlier.periods
    count_a, mean_a, variance_a, freedom_a = _fleet_moments(baseline, centre, min_periods, scatter_a, periods_a)
    count_b, mean_b, variance_b, freedom_b = _fleet_moments(candidate, centre, min_periods, scatter_b, periods_b)
    with np.errstate(divide="ignore", invalid="ignore"):
        share_a, share_b = variance_a / count_a, variance_b / count_b
        variance = share_a + share_b
        freedom = variance**2 / (share_a**2 / freedom_a + share_b**2 / freedom_b)
    valid = (count_a > 0) & (count_b > 0) & np.isfinite(variance) & (variance > 0.0)
    effect = _masked(mean_b - mean_a, valid)
    variance = _masked(variance, valid)
    return CumulativeComparison(
        n_baseline=count_a,
        n_candidate=count_b,
        baseline=_masked(mean_a, valid),
        candidate=_masked(mean_b, valid),
        effect=effect,
        null_variance=variance,
        adjusted_effect=effect,
        variance=variance,
        valid=valid,
        degrees_of_freedom=_masked(freedom, valid),
    )


def _log_ratios(baseline: MedianSeries, candidate: MedianSeries) -> tuple[FloatArray, FloatArray, BoolArray]:
    """Per-minute log ratio of the medians and its weight 1 / (1/n_a + 1/n_b), 0 where a fleet did not serve."""
    count_a, count_b = baseline.sample_count, candidate.sample_count
    paired = (count_a > 0) & (count_b > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(paired, np.log(candidate.median) - np.log(baseline.median), 0.0)
        weight = np.where(paired, 1.0 / (1.0 / count_a + 1.0 / count_b), 0.0)
    return ratio, weight, paired


def _log_medians(
    baseline: MedianSeries, candidate: MedianSeries, min_periods: int, earlier: EarlierScatter = NO_EARLIER_SCATTER
) -> CumulativeComparison:
    """Paired per-minute log ratios of the candidate's median to the baseline's, weighted by 1/(1/n_a + 1/n_b).

    The variance of a log sample median is about c / n, so a minute's ratio has variance c (1/n_a + 1/n_b); c is
    estimated from how the weighted ratios scatter (J - 1 degrees of freedom), which also absorbs what one minute's
    load does to both fleets differently. Effects are log ratios (log(1.2) = 0.18 is 20 % slower).
    """
    count_a, count_b = baseline.sample_count, candidate.sample_count
    ratio, weight, paired = _log_ratios(baseline, candidate)
    earlier_minutes = earlier.periods[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        total = np.cumsum(weight)
        mean = np.cumsum(weight * ratio) / total
        minutes = np.cumsum(paired).astype(float)
        scatter = np.maximum(np.cumsum(weight * ratio * ratio) - total * mean * mean, 0.0) + earlier.scatter[0]
        freedom = minutes - 1.0 + max(earlier_minutes - 1, 0)
        per_weight = np.where(minutes + earlier_minutes >= min_periods, scatter / freedom, np.nan)
        variance = per_weight / total
        log_a = np.where(paired, np.log(baseline.median), 0.0)
        level_a = np.exp(np.cumsum(weight * log_a) / total)
    valid = (total > 0) & np.isfinite(variance) & (variance > 0.0)
    effect = _masked(mean, valid)
    variance = _masked(variance, valid)
    return CumulativeComparison(
        n_baseline=np.cumsum(count_a),
        n_candidate=np.cumsum(count_b),
        baseline=_masked(level_a, valid),
        candidate=_masked(level_a * np.exp(mean), valid),
        effect=effect,
        null_variance=variance,
        adjusted_effect=effect,
        variance=variance,
        valid=valid,
        degrees_of_freedom=_masked(freedom, valid),
        log_sigma=_masked(np.sqrt(per_weight / MEDIAN_VARIANCE_FACTOR), valid),
    )
