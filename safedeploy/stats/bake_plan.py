"""The bake a blue/green canary needs, and the power a given bake has, for the engine's own tests.

Each guarded metric's harm test is described per candidate request by its effect Delta and the spread of one
candidate request's contribution under "no harm" (s0) and under the harm (s1), so n candidate requests give a
z-drift of Delta sqrt(n) / s0. The spreads follow the tests the verdict runs:

- error rate, stratified by minute (candidate share pi, baseline rate p0, harmful rate p1, Poisson errors): the
  conditional test's variance is pi (1 - pi) per error seen, and a harmful candidate brings more errors, so
  Delta = (1 - pi)(p1 - p0), s0^2 = (1 - pi)(pi p1 + (1 - pi) p0), s1^2 = (1 - pi)((1 - pi) p1 + pi p0), both
  times the declared dispersion of clustered errors and `COUNT_TEST_ALLOWANCE`: the exact test is discrete and
  the verdict takes the smaller of two clustering-robust statistics, which together cost what a 15-25 % larger
  variance costs (measured by the bench: a candidate whose errors triple from mid-bake at dev's traffic was caught
  0.858 +- 0.014 of the time where the plan without the allowance promised 0.90, and 0.887 by the exact test alone;
  the upper end is taken, so the planned bake delivers the power rather than promising it);
- latency, per-minute log ratio of medians (log latency spread sigma): a log sample median of n requests has
  variance about (pi/2) sigma^2 / n, so Delta = log(1 + increase), s0^2 = s1^2 = (pi/2) sigma^2 / (1 - pi), times
  `T_SCALE_ALLOWANCE` for the variance the test estimates from a few dozen minutes (t, not z; measured by the
  bench, where the late window's two dozen minutes cost about that much power).

A harm test of K looks at level a needs the fixed-sample n times the exact group-sequential inflation. With a late
window (a share of the alpha given to a test on the second half of the horizon, for a candidate that turns bad
mid-bake), the second half alone must also reach the power at its level. The bake is the horizon's minutes at the
declared quiet-hour traffic plus the minutes a ROLLBACK needs to reach SageMaker (`ALARM_LAG_MINUTES`: metrics
arrive about a minute late, the analysis judges complete minutes, and the verdict alarm fires on 2 of 3 minutes).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from safedeploy.stats.boundaries import MAX_LOOKS
from safedeploy.stats.normal import MEDIAN_VARIANCE_FACTOR
from safedeploy.stats.planning import group_sequential_design
from safedeploy.stats.recursive_integration import exit_probabilities
from safedeploy.stats.sample_size import candidate_sample_size
from safedeploy.stats.spending import Spending

ALARM_LAG_MINUTES = 3
# A median's variance comes from the minutes themselves, the late window's pooled with the earlier minutes': the
# bake needs this many minutes before latency can be judged at all.
MIN_WINDOW_MINUTES = 10
# The blue/green detector. The whole-bake test spends alpha about evenly over the minutes (Pocock-type), so harm
# present from the start stops as soon as the evidence is clear; the late window spends O'Brien-Fleming-type, so
# its power, which the bake is planned for, is at its end.
WHOLE_BAKE_SPENDING: Spending = "pocock"
LATE_WINDOW_SPENDING: Spending = "obf"
LATE_WINDOW_LOOKS = 5  # each look costs power at the end; five of them still stop a harmful candidate mid-window
T_SCALE_ALLOWANCE = 1.2
COUNT_TEST_ALLOWANCE = 1.25


@dataclass(frozen=True)
class HarmSpec:
    """One metric's harm test per candidate request: effect, null and alternative spreads."""

    name: str
    effect: float
    null_spread: float
    alternative_spread: float

    def fixed_samples(self, alpha: float, power: float) -> float:
        return candidate_sample_size(self.null_spread, self.alternative_spread, self.effect, alpha, power, sides=1)

    def group_samples(self, alpha: float, power: float, looks: int, spending: Spending) -> float:
        return self.fixed_samples(alpha, power) * group_sequential_design(looks, alpha, power, spending, 1).inflation

    def power(self, samples: float, alpha: float, looks: int, spending: Spending) -> float:
        """Chance the K-look test at level alpha crosses within `samples` candidate requests."""
        if samples <= 0:
            return 0.0
        fractions = [k / looks for k in range(1, looks + 1)]
        boundaries = group_sequential_design(looks, alpha, 0.9, spending, 1).boundaries
        ratio = self.null_spread / self.alternative_spread
        drift = self.effect * math.sqrt(samples) / self.alternative_spread
        _, above = exit_probabilities(fractions, [b * ratio for b in boundaries], None, drift)
        return min(1.0, sum(above))


def rate_harm_spec(name: str, share: float, baseline_rate: float, ratio: float, dispersion: float = 1.0) -> HarmSpec:
    """A rate's harm test (the error rate's): the baseline rate multiplied by `ratio` is the harm to catch."""
    harmful = min(baseline_rate * ratio, 0.999)
    scale = math.sqrt(COUNT_TEST_ALLOWANCE * dispersion)
    return HarmSpec(
        name,
        (1.0 - share) * (harmful - baseline_rate),
        scale * math.sqrt((1.0 - share) * (share * harmful + (1.0 - share) * baseline_rate)),
        scale * math.sqrt((1.0 - share) * ((1.0 - share) * harmful + share * baseline_rate)),
    )


def log_median_harm_spec(
    name: str, share: float, log_sigma: float, increase: float, tolerance: float = 0.0
) -> HarmSpec:
    """A per-minute median's harm test (latency's). `tolerance`: the relative increase the harm test's (shifted)
    null allows; the effect is what lies beyond it."""
    spread = log_median_spread(share, log_sigma)
    return HarmSpec(name, math.log1p(increase) - math.log1p(tolerance), spread, spread)


@dataclass(frozen=True)
class MetricPlan:
    name: str
    samples_needed: float  # candidate requests for the declared power, whole and late window alike
    power_at_bake: float  # harm present from the start
    late_power_at_bake: float | None  # harm from the middle of the bake on (None without a late window)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class BakePlan:
    """What a bake of `bake_seconds` gives; `needed_seconds` is the shortest bake that reaches the power."""

    requests_per_minute: float
    candidate_share: float
    power: float
    bake_seconds: int
    needed_seconds: int
    horizon_samples: int
    metrics: tuple[MetricPlan, ...]

    @property
    def reaches_power(self) -> bool:
        return self.bake_seconds >= self.needed_seconds

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"reaches_power": self.reaches_power, "alarm_lag_minutes": ALARM_LAG_MINUTES}

    def summary(self) -> str:
        parts = []
        for metric in self.metrics:
            late = (
                ""
                if metric.late_power_at_bake is None
                else f", {metric.late_power_at_bake:.2f} if it turns bad mid-bake"
            )
            parts.append(f"{metric.name} {metric.power_at_bake:.2f}{late}")
        return (
            f"bake {self.bake_seconds} s at {self.requests_per_minute:g} requests/minute and a candidate share of "
            f"{self.candidate_share:.3f} gives power {'; '.join(parts)} (declared {self.power:g}); "
            f"the declared power needs {self.needed_seconds} s"
        )


@dataclass(frozen=True)
class HarmDesign:
    """How a bake's harm tests are run: level per metric (alpha / number of metrics), the late window's share of
    it; the whole-bake test looks every judged minute (`bake_looks`), the late window `LATE_WINDOW_LOOKS` times."""

    alpha: float
    metric_count: int
    late_alpha_share: float

    @property
    def levels(self) -> tuple[float, float]:
        level = self.alpha / self.metric_count
        return level * (1.0 - self.late_alpha_share), level * self.late_alpha_share

    @staticmethod
    def looks(minutes: int) -> tuple[int, int]:
        """Looks of the whole-bake test and of the late window for a bake of `minutes` judged minutes."""
        return bake_looks(minutes), LATE_WINDOW_LOOKS

    def window_samples(self, spec: HarmSpec, power: float, minutes: int) -> tuple[float, float | None]:
        """Candidate requests the whole-bake test and the late window (None without one) each need for `power`
        when the bake has `minutes` judged minutes (which sets their looks)."""
        whole, late = self.levels
        whole_looks, late_looks = self.looks(minutes)
        needed = spec.group_samples(whole, power, whole_looks, WHOLE_BAKE_SPENDING)
        if self.late_alpha_share <= 0.0:
            return needed, None
        return needed, spec.group_samples(late, power, late_looks, LATE_WINDOW_SPENDING)

    def samples_needed(self, spec: HarmSpec, power: float, minutes: int) -> float:
        whole, late = self.window_samples(spec, power, minutes)
        return whole if late is None else max(whole, 2.0 * late)

    def minutes_needed(self, spec: HarmSpec, power: float, minutes: int, per_minute: float) -> int:
        """Judged minutes the metric's tests need when the bake has `minutes` of them: the late window is the
        second half of the minutes, rounded down (`late_window_start`), so it must hold its requests whole."""
        whole, late = self.window_samples(spec, power, minutes)
        needed = math.ceil(whole / per_minute)
        return needed if late is None else max(needed, 2 * math.ceil(late / per_minute))

    def powers(self, spec: HarmSpec, horizon: float, minutes: int) -> tuple[float, float | None]:
        """Power with harm from the start (either test may catch it) and from mid-bake (the late window's, on the
        requests of its minutes)."""
        whole, late = self.levels
        whole_looks, late_looks = self.looks(minutes)
        from_start = spec.power(horizon, whole, whole_looks, WHOLE_BAKE_SPENDING)
        if self.late_alpha_share <= 0.0:
            return from_start, None
        from_middle = spec.power(horizon * (minutes // 2) / minutes, late, late_looks, LATE_WINDOW_SPENDING)
        return max(from_start, from_middle), from_middle


def bake_looks(minutes: int) -> int:
    """A bake's tests look every judged minute (the analysis runs every minute), up to `MAX_LOOKS`."""
    return max(1, min(minutes, MAX_LOOKS))


def plan_bake(
    specs: list[HarmSpec],
    design: HarmDesign,
    requests_per_minute: float,
    candidate_share: float,
    power: float,
    bake_seconds: int | None = None,
) -> BakePlan:
    """The bake needed for `power` on every metric, and each metric's power at `bake_seconds` (default: needed)."""
    per_minute = requests_per_minute * candidate_share
    # the looks follow the minutes, and the minutes the looks' inflation, which grows slowly with them: the
    # smallest bake that is long enough for its own looks is reached in a few steps
    minutes = MIN_WINDOW_MINUTES
    for _ in range(MAX_LOOKS):
        longer = max(minutes, *(design.minutes_needed(spec, power, minutes, per_minute) for spec in specs))
        if longer == minutes:
            break
        minutes = longer
    needed_seconds = 60 * (minutes + ALARM_LAG_MINUTES)
    bake = needed_seconds if bake_seconds is None else bake_seconds
    horizon = horizon_samples(requests_per_minute, candidate_share, bake)
    judged = judged_minutes(bake)
    metrics = tuple(
        MetricPlan(spec.name, design.samples_needed(spec, power, judged), *design.powers(spec, horizon, judged))
        for spec in specs
    )
    return BakePlan(requests_per_minute, candidate_share, power, bake, needed_seconds, horizon, metrics)


def judged_minutes(bake_seconds: float) -> int:
    """Minutes of a bake whose verdict still reaches SageMaker in time: the tests' last look is the last of them."""
    return max(1, math.floor(bake_seconds / 60.0) - ALARM_LAG_MINUTES)


def horizon_samples(requests_per_minute: float, candidate_share: float, bake_seconds: float) -> int:
    """Candidate requests, at the declared traffic, by the last minute a ROLLBACK can still stop the shift. Quieter
    traffic does not leave the test unfinished: its last look is at that minute whatever the count reached."""
    return max(1, math.floor(requests_per_minute * candidate_share * judged_minutes(bake_seconds)))


def requests_needed(needed_samples: float, candidate_share: float, bake_seconds: float) -> float | None:
    """Quiet-hour requests per minute at which `bake_seconds` would collect `needed_samples` candidate requests."""
    minutes = bake_seconds / 60.0 - ALARM_LAG_MINUTES
    return needed_samples / (candidate_share * minutes) if minutes > 0 else None


def non_inferiority_samples(spread: float, margin: float, alpha: float, power: float, looks: int) -> int:
    """Candidate requests for an equal candidate to show non-inferiority within `margin` with `power`."""
    fixed = candidate_sample_size(spread, spread, margin, alpha, power, sides=1)
    return math.ceil(fixed * group_sequential_design(looks, alpha, power, "obf", 1).inflation)


def rate_spread(share: float, baseline_rate: float, dispersion: float = 1.0) -> float:
    """Spread per candidate request of the unconditional difference of two rates (non-inferiority)."""
    return math.sqrt(dispersion * baseline_rate * (1.0 - baseline_rate) / (1.0 - share))


def log_median_spread(share: float, log_sigma: float) -> float:
    """Spread per candidate request of the per-minute log ratio of medians."""
    return math.sqrt(T_SCALE_ALLOWANCE * MEDIAN_VARIANCE_FACTOR * log_sigma**2 / (1.0 - share))
