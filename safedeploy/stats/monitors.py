"""Per-metric sequential monitors: when harm is shown, when non-inferiority is shown, and what to report.

Two ways to look, chosen by policy: `GroupSequentialMonitor` tests at planned information fractions with
Lan-DeMets boundaries (the most power for a planned bake); `AlwaysValidMonitor` tests every period with mSPRT
p-values (safe under any looking schedule). Both orient statistics so that a positive harm z means "worse".
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import replace
from functools import cached_property
from typing import Any

import numpy as np

from safedeploy.stats.boundaries import spending_boundaries
from safedeploy.stats.comparison_series import CumulativeComparison
from safedeploy.stats.msprt import always_valid_p_values
from safedeploy.stats.normal import FloatArray, upper_quantile, upper_tail
from safedeploy.stats.policy import MetricPolicy


class MetricMonitor(ABC):
    """What both monitors share: oriented statistics, margins, sample counts and the reported details."""

    def __init__(self, comparison: CumulativeComparison, policy: MetricPolicy) -> None:
        self.comparison = comparison
        self.policy = policy
        sign = policy.harm_sign
        self.margin = policy.absolute_margin(comparison.baseline)
        self.tolerance = (
            policy.absolute_tolerance(comparison.baseline) if policy.tolerance else np.zeros(comparison.valid.shape)
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            null_error = np.sqrt(comparison.null_variance)
            harm_t = np.where(null_error > 0.0, (sign * comparison.effect - self.tolerance) / null_error, 0.0)
            self.harm_z = (
                comparison.standardize(np.where(comparison.valid, harm_t, np.nan))
                if comparison.harm_z is None
                else comparison.harm_z
            )
            non_inferiority_t = (self.margin - sign * comparison.adjusted_effect) / np.sqrt(comparison.variance)
            self.non_inferiority_z = comparison.standardize(non_inferiority_t)
        self.samples_period = comparison.first_period_with(policy.min_samples)
        self._always_valid = self._always_valid_harm_p_values()

    def _always_valid_harm_p_values(self) -> FloatArray:
        """Reported in both modes so an operator may look at any moment without spending alpha."""
        usable = self.comparison.valid & (self.comparison.null_variance > 0.0)
        shifts = self.policy.harm_sign * self.comparison.effect - self.tolerance
        return self._always_valid_path(usable, shifts, self.comparison.null_variance, "greater")

    def _always_valid_path(
        self, usable: np.ndarray, shifts: FloatArray, variances: FloatArray, alternative: str
    ) -> FloatArray:
        """Running always-valid p-value per period (NaN before the first usable period)."""
        path = np.full(usable.size, np.nan)
        scale = self._mixture_scale(usable)
        if scale is not None and np.any(usable):
            path[usable] = always_valid_p_values(shifts[usable], variances[usable], scale, alternative=alternative)
        return np.fmin.accumulate(path)

    def _mixture_scale(self, usable: np.ndarray) -> float | None:
        """The policy's tau, else the effect size that matters: the (latest) absolute margin."""
        if self.policy.tau is not None:
            return float(self.policy.tau)
        margins = self.margin[usable & np.isfinite(self.margin)]
        return float(margins[-1]) if margins.size and margins[-1] > 0.0 else None

    def information_fraction(self, period: int) -> float | None:
        """Elapsed share of the planned minutes (a time horizon) or of the planned candidate samples."""
        minutes, horizon = self.policy.horizon_minutes, self.policy.horizon
        if minutes is not None:
            origin = _origin(self.comparison)
            return None if origin is None else float(np.clip((period - origin + 1) / minutes, 0.0, 1.0))
        return min(1.0, float(self.comparison.n_candidate[period]) / horizon) if horizon else None

    @abstractmethod
    def harm_period(self, level: float) -> int | None:
        """First period at which harm is shown at this one-sided level, if any."""

    @abstractmethod
    def harm_shown_at(self, period: int, level: float) -> bool:
        """Whether the latest look up to `period` shows harm at this level (Holm's later steps)."""

    @abstractmethod
    def non_inferiority_period(self) -> int | None:
        """First period at which non-inferiority within the margin is shown, if any."""

    def inconclusive_period(self) -> int | None:
        """Period of a final look that did not show non-inferiority; only planned looks can run out."""
        return None

    @abstractmethod
    def look_details(self, period: int, level: float) -> dict[str, Any]:
        """Statistics, boundaries and p-values of the latest look up to `period`."""

    def details(self, period: int, level: float) -> dict[str, Any]:
        c = self.comparison
        alpha = self.policy.alpha
        interval_error = math.sqrt(c.variance[period]) if c.valid[period] else math.nan
        half_width = upper_quantile(alpha) * interval_error
        look = self.look_details(period, level)
        standard_error = math.sqrt(c.null_variance[period]) if c.valid[period] else math.nan
        boundary = look.get("boundary")
        # the effect at which the latest look's boundary is reached, in the metric's units (a log ratio for a
        # median): the boundary on the harm z scale read back through the harm test's standard error (approximate
        # for the exact count test and t-like statistics; it is for reports)
        threshold = (
            self.policy.harm_sign * (float(self.tolerance[period]) + boundary * standard_error)
            if boundary is not None and math.isfinite(boundary) and math.isfinite(standard_error)
            else None
        )
        spread = None if c.log_sigma is None or not c.valid[period] else float(c.log_sigma[period])
        return {
            "kind": self.policy.kind,
            "harm_direction": self.policy.harm,
            "n_baseline": float(c.n_baseline[period]),
            "n_candidate": float(c.n_candidate[period]),
            "baseline": c.baseline[period],
            "candidate": c.candidate[period],
            "effect": c.effect[period],
            "ci": [c.adjusted_effect[period] - half_width, c.adjusted_effect[period] + half_width],
            "ci_level": 1.0 - 2.0 * alpha,
            "margin": self.margin[period],
            "information_fraction": self.information_fraction(period),
            "always_valid_p_value": self._always_valid[period],
            "alpha": level,
            "standard_error": standard_error,
            "harm_threshold": threshold,
            "log_sigma": spread,
            **look,
        }


def _first(flags: np.ndarray, periods: np.ndarray) -> int | None:
    hits = np.flatnonzero(flags)
    return int(periods[hits[0]]) if hits.size else None


class GroupSequentialMonitor(MetricMonitor):
    """Looks when the candidate fleet passes k/K of the horizon (or the first period after with a usable
    statistic); boundaries use the fractions actually observed, which Lan-DeMets spending allows.

    With `late_alpha_share` s > 0 a second group-sequential harm test runs on the data after the candidate
    reached half the horizon, at level s x alpha (the cumulative test keeps (1 - s) x alpha; Bonferroni): a
    candidate that turns bad mid-bake is judged on undiluted evidence. Non-inferiority has its own horizon
    (`ni_horizon`, default the harm horizon), so a promotion can be sized for promotion power. With
    `last_look_minute` both tests end at that minute if the horizon has not been reached by then.
    """

    def __init__(
        self,
        comparison: CumulativeComparison,
        policy: MetricPolicy,
        late: CumulativeComparison | None = None,
        final_period: int | None = None,
        origin: int | None = None,
    ) -> None:
        super().__init__(comparison, policy)
        horizon = float(policy.horizon or 0)
        minutes = policy.horizon_minutes
        # calendar-time spending: the elapsed share of the planned minutes at each look (None: by information)
        self.spent_at: list[float] | None = None
        if minutes is not None:
            self.origin = _origin(comparison) if origin is None else origin
            self.look_periods, self.fractions, self.spent_at = _timed_looks(
                comparison, self.origin, minutes, policy.looks
            )
            self.ni_look_periods, self.ni_fractions, self.ni_spent_at = (
                self.look_periods,
                self.fractions,
                self.spent_at,
            )
        else:
            if final_period is None:
                final_period = _final_period(comparison, policy.last_look_minute)
            self.look_periods, self.fractions = _planned_looks(comparison, horizon, policy.looks, final_period)
            ni_horizon = float(policy.ni_horizon or horizon)
            self.ni_look_periods, self.ni_fractions = _planned_looks(comparison, ni_horizon, policy.looks, final_period)
            self.ni_spent_at = None
        self.late: GroupSequentialMonitor | None = None
        if late is not None and policy.late_alpha_share > 0.0:
            start = late_window_start(comparison, policy)
            window = replace(
                policy,
                looks=policy.late_window_looks,
                late_looks=None,
                spending=policy.late_spending,
                late_alpha_share=0.0,
            )
            if start is not None and minutes is not None:
                late_policy = replace(window, horizon_minutes=minutes - (start - self.origin))
                self.late = GroupSequentialMonitor(late, late_policy, origin=start)
            elif start is not None:
                late_policy = replace(window, horizon=max(1, math.ceil(horizon - comparison.n_candidate[start - 1])))
                self.late = GroupSequentialMonitor(late, late_policy, final_period=final_period)

    @cached_property
    def _ni_boundaries(self) -> np.ndarray:
        """Computed when first needed: a late-window monitor and a pure harm detector never need them."""
        return self._boundaries(self.ni_fractions, self.policy.alpha, self.ni_spent_at)

    @property
    def _shares(self) -> tuple[float, float]:
        """The split is fixed by the policy, whether or not the late window has begun: a cumulative test that
        took the whole alpha until then would reject where the same data judged later would not."""
        late = self.policy.late_alpha_share
        return 1.0 - late, late

    def _boundaries(self, fractions: list[float], level: float, spent_at: list[float] | None) -> np.ndarray:
        if not fractions:
            return np.array([])
        return np.array(spending_boundaries(fractions, level, self.policy.spending, 1, spent_at))

    def _harm_boundaries(self, level: float) -> np.ndarray:
        return self._boundaries(self.fractions, level, self.spent_at)

    def _own_harm_period(self, level: float) -> int | None:
        crossed = self.harm_z[self.look_periods] >= self._harm_boundaries(level)
        return _first(crossed, self.look_periods)

    def harm_period(self, level: float) -> int | None:
        whole, late = self._shares
        periods = [self._own_harm_period(level * whole)]
        if self.late is not None:
            periods.append(self.late._own_harm_period(level * late))
        found = [period for period in periods if period is not None]
        return min(found) if found else None

    def _own_harm_shown_at(self, period: int, level: float) -> bool:
        look = _latest_look(self.look_periods, period)
        if look is None:
            return False
        return bool(self.harm_z[self.look_periods[look]] >= self._harm_boundaries(level)[look])

    def harm_shown_at(self, period: int, level: float) -> bool:
        whole, late = self._shares
        shown = self._own_harm_shown_at(period, level * whole)
        return shown or (self.late is not None and self.late._own_harm_shown_at(period, level * late))

    def non_inferiority_period(self) -> int | None:
        crossed = self.non_inferiority_z[self.ni_look_periods] >= self._ni_boundaries
        return _first(crossed, self.ni_look_periods)

    def inconclusive_period(self) -> int | None:
        if not self.ni_fractions or self.ni_fractions[-1] < 1.0:
            return None
        shown = self.non_inferiority_period()
        return None if shown is not None else int(self.ni_look_periods[-1])

    def look_details(self, period: int, level: float) -> dict[str, Any]:
        look = _latest_look(self.look_periods, period)
        base: dict[str, Any] = {"look": 0 if look is None else look + 1, "looks_planned": self.policy.looks}
        whole, late_share = self._shares
        base |= self._late_details(period, level * late_share)
        ni_look = _latest_look(self.ni_look_periods, period)
        if ni_look is None:
            base |= dict.fromkeys(("ni_statistic", "ni_boundary", "ni_p_value"))
        else:
            ni_z = self.non_inferiority_z[self.ni_look_periods[ni_look]]
            ni = {"ni_statistic": ni_z, "ni_boundary": self._ni_boundaries[ni_look], "ni_p_value": upper_tail(ni_z)}
            base |= {key: float(value) for key, value in ni.items()}
        if look is None:
            return base | dict.fromkeys(("statistic", "boundary", "p_value", "look_period"))
        at = self.look_periods[look]
        harm_z = self.harm_z[at]
        return base | {
            "look_period": int(at),
            "look_information_fraction": (self.spent_at or self.fractions)[look],
            "statistic": harm_z,
            "boundary": self._harm_boundaries(level * whole)[look],
            "p_value": float(upper_tail(harm_z)),
        }

    def _late_details(self, period: int, level: float) -> dict[str, Any]:
        if self.late is None:
            return {"late_statistic": None, "late_boundary": None}
        look = _latest_look(self.late.look_periods, period)
        if look is None:
            return {"late_statistic": None, "late_boundary": None}
        boundary = self.late._harm_boundaries(level)[look]
        return {"late_statistic": self.late.harm_z[self.late.look_periods[look]], "late_boundary": boundary}


def late_window_start(comparison: CumulativeComparison, policy: MetricPolicy) -> int | None:
    """First period after the candidate fleet passed half the horizon, or half the horizon's minutes (where the late
    window begins)."""
    if policy.horizon_minutes is not None:
        origin = _origin(comparison)
        if origin is None:
            return None
        start = origin + math.ceil(policy.horizon_minutes / 2)
        return start if start < comparison.n_candidate.size and start - origin < policy.horizon_minutes else None
    half = float(policy.horizon or 0) / 2.0
    reached = np.flatnonzero(comparison.n_candidate >= half)
    if half <= 0 or not reached.size or reached[0] + 1 >= comparison.n_candidate.size:
        return None
    return int(reached[0]) + 1


def _latest_look(look_periods: np.ndarray, period: int) -> int | None:
    done = int(np.searchsorted(look_periods, period, side="right"))
    return done - 1 if done else None


def _origin(comparison: CumulativeComparison) -> int | None:
    """Index of the candidate fleet's first period with traffic: minute 1 of a time horizon."""
    served = np.flatnonzero(comparison.n_candidate > 0)
    return int(served[0]) if served.size else None


def _timed_looks(
    comparison: CumulativeComparison, origin: int | None, minutes: int, looks: int
) -> tuple[np.ndarray, list[float], list[float]]:
    """Look k of K at minute ceil(k minutes / K) from `origin` (or the first usable period after it): the looks'
    periods, their information relative to the latest look (the candidate's samples, which set the correlation of
    the looks' statistics), and the elapsed share of the minutes (which sets the alpha spent). A look at or past
    the last minute ends the test; a look without new information is skipped (the next one spends its alpha, or,
    at the end, nobody: conservative).
    """
    periods = comparison.valid.size
    if periods == 0 or origin is None:
        return np.array([], dtype=int), [], []
    usable = comparison.valid & np.isfinite(comparison.variance)
    candidates = np.append(np.where(usable, np.arange(periods), periods), periods)
    next_usable = np.minimum.accumulate(candidates[::-1])[::-1]
    planned = origin + np.ceil(minutes * np.arange(1, looks + 1) / looks).astype(int) - 1
    kept: list[int] = []
    times: list[float] = []
    for period in next_usable[np.minimum(planned, periods)]:
        if period >= periods:
            break
        if kept and period <= kept[-1]:
            continue
        elapsed = min(1.0, (int(period) - origin + 1) / minutes)
        if kept and comparison.n_candidate[period] <= comparison.n_candidate[kept[-1]]:
            continue
        kept.append(int(period))
        times.append(elapsed)
        if elapsed >= 1.0:
            break
    information = comparison.n_candidate[kept]
    fractions = [float(value) for value in information / information[-1]] if kept else []
    return np.array(kept, dtype=int), fractions, times


def _final_period(comparison: CumulativeComparison, last_look_minute: int | None) -> int | None:
    """Index of the period `last_look_minute` minutes into the candidate's traffic (None: no such limit)."""
    if last_look_minute is None:
        return None
    served = np.flatnonzero(comparison.n_candidate > 0)
    return None if not served.size else int(served[0]) + last_look_minute - 1


def _planned_looks(
    comparison: CumulativeComparison, horizon: float, looks: int, final_period: int | None = None
) -> tuple[np.ndarray, list[float]]:
    """Period index and information fraction of each look reached so far, strictly increasing.

    A look at `final_period` (or the first usable period after it) ends the test when the horizon was not reached
    before: it counts as information fraction 1 and spends the rest of alpha. Its boundary then assumes less
    correlation with the earlier looks than the data have, which errs on the safe side.
    """
    periods = comparison.valid.size
    if periods == 0 or horizon <= 0:
        return np.array([], dtype=int), []
    usable = comparison.valid & np.isfinite(comparison.variance)
    candidates = np.append(np.where(usable, np.arange(periods), periods), periods)
    next_usable = np.minimum.accumulate(candidates[::-1])[::-1]
    thresholds = horizon * np.arange(1, looks + 1) / looks
    # the tolerance keeps a threshold such as 3 * 6000 / 10 reached at exactly 1800 samples despite rounding
    reached = np.searchsorted(comparison.n_candidate, thresholds - 1e-9 * horizon, side="left")
    look_periods = np.maximum.accumulate(next_usable[np.minimum(reached, periods)])
    look_periods = np.unique(look_periods[look_periods < periods])
    fractions = np.minimum(1.0, comparison.n_candidate[look_periods] / horizon)
    final = np.flatnonzero(fractions >= 1.0)
    keep = final[0] + 1 if final.size else fractions.size
    look_periods, fractions = look_periods[:keep], fractions[:keep]
    if final_period is not None and final_period < periods and not (final.size and look_periods[-1] < final_period):
        last = int(next_usable[max(final_period, 0)])
        early = look_periods < final_period
        look_periods, fractions = look_periods[early], fractions[early]
        if last < periods:
            look_periods, fractions = np.append(look_periods, last), np.append(fractions, 1.0)
    return look_periods, [float(value) for value in fractions]


class AlwaysValidMonitor(MetricMonitor):
    """Every period with a usable statistic is a look; mSPRT p-values keep the error rate under any schedule."""

    def __init__(self, comparison: CumulativeComparison, policy: MetricPolicy) -> None:
        super().__init__(comparison, policy)
        usable = comparison.valid & np.isfinite(self.margin)
        distance_past_margin = policy.harm_sign * comparison.adjusted_effect - self.margin
        self._ni_p = self._always_valid_path(usable, distance_past_margin, comparison.variance, "less")

    def harm_period(self, level: float) -> int | None:
        return _first(self._always_valid <= level, np.arange(self._always_valid.size))

    def harm_shown_at(self, period: int, level: float) -> bool:
        return bool(self._always_valid[period] <= level)

    def non_inferiority_period(self) -> int | None:
        return _first(self._ni_p <= self.policy.alpha, np.arange(self._ni_p.size))

    def look_details(self, period: int, level: float) -> dict[str, Any]:
        return {
            "look": int(np.sum(self.comparison.valid[: period + 1])),
            "looks_planned": None,
            "statistic": self.harm_z[period],
            "boundary": None,
            "p_value": self._always_valid[period],
            "ni_statistic": self.non_inferiority_z[period],
            "ni_boundary": None,
            "ni_p_value": self._ni_p[period],
        }
