"""How many samples and how many minutes a canary needs, so bake times are derived rather than guessed.

A group-sequential test needs a slightly larger maximum sample than a fixed-horizon test of equal power (the
inflation factor) but stops early when harm is real, so its expected sample under the design effect is smaller.
Both factors come from exact crossing probabilities, not simulation.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any, Literal

from safedeploy.stats.boundaries import spending_boundaries, validate_alpha, validate_looks, validate_sides
from safedeploy.stats.normal import upper_quantile
from safedeploy.stats.recursive_integration import exit_probabilities
from safedeploy.stats.sample_size import (
    candidate_sample_size,
    finite_nonzero,
    mean_spreads,
    positive,
    proportion,
    proportion_spreads,
)
from safedeploy.stats.spending import spending_function

MetricKind = Literal["proportion", "mean"]
_DRIFT_TOLERANCE = 1e-9


@dataclass(frozen=True)
class GroupSequentialDesign:
    """Sizes relative to the fixed-horizon test with the same alpha and power, for equally spaced looks."""

    looks: int
    boundaries: list[float]
    inflation: float  # maximum sample / fixed sample
    expected_fraction_under_effect: float  # average sample under the design effect / fixed sample


def group_sequential_design(
    looks: int, alpha: float = 0.05, power: float = 0.8, spending: str = "obf", sides: int = 1
) -> GroupSequentialDesign:
    validate_looks(looks)
    validate_alpha(alpha)
    validate_alpha(power, "power")
    validate_sides(sides)
    spending_function(spending)
    return _design(looks, float(alpha), float(power), spending, sides)


@lru_cache(maxsize=64)
def _design(looks: int, alpha: float, power: float, spending: str, sides: int) -> GroupSequentialDesign:
    fractions = [k / looks for k in range(1, looks + 1)]
    boundaries = spending_boundaries(fractions, alpha, spending, sides)
    lower = [-b for b in boundaries] if sides == 2 else None

    def stopping(drift: float) -> list[float]:
        below, above = exit_probabilities(fractions, boundaries, lower, drift)
        return [low + high for low, high in zip(below, above, strict=True)]

    fixed_drift = upper_quantile(alpha / sides) + upper_quantile(1.0 - power)
    low, high = fixed_drift, 2.0 * fixed_drift
    while high - low > _DRIFT_TOLERANCE:
        middle = (low + high) / 2.0
        low, high = (middle, high) if sum(stopping(middle)) < power else (low, middle)
    drift = (low + high) / 2.0
    stops = stopping(drift)
    expected_fraction = sum(t * p for t, p in zip(fractions[:-1], stops[:-1], strict=True)) + (1.0 - sum(stops[:-1]))
    inflation = (drift / fixed_drift) ** 2
    return GroupSequentialDesign(looks, boundaries, inflation, inflation * expected_fraction)


@dataclass(frozen=True)
class CanaryPlan:
    """Samples per fleet and minutes of bake for one guarded metric.

    `horizon_samples` (candidate fleet) is what a canary policy's `horizon` should be set to.
    """

    kind: MetricKind
    fixed_samples_candidate: int
    fixed_samples_baseline: int
    horizon_samples: int
    horizon_samples_baseline: int
    expected_samples_under_effect: int
    inflation: float
    bake_minutes: float
    expected_minutes_under_effect: float
    fixed_minutes: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def plan_canary(
    kind: str,
    baseline: float,
    mde: float,
    requests_per_minute: float,
    canary_share: float,
    sigma: float | None = None,
    alpha: float = 0.05,
    power: float = 0.9,
    looks: int = 10,
    spending: str = "obf",
) -> CanaryPlan:
    """Plan the one-sided harm test of a metric: `baseline` is its current rate (proportion) or mean, `mde` the
    harmful change to detect (signed or not; only its size matters), `sigma` the per-request standard deviation
    of a mean metric, and `requests_per_minute` the endpoint's traffic of which `canary_share` goes to the candidate.
    Power defaults to 0.9: a missed harmful model goes on to take all of the traffic.
    """
    share = proportion(canary_share, "canary_share")
    rate = positive(requests_per_minute, "requests_per_minute")
    size = abs(finite_nonzero(mde, "mde"))
    if kind not in ("proportion", "mean"):
        raise ValueError(f"kind must be 'proportion' or 'mean', got {kind!r}")
    if kind == "mean" and sigma is None:
        raise ValueError("sigma (per-request standard deviation) is required for a mean metric")
    try:
        ratio = share / (1.0 - share)
        if kind == "proportion":
            harmful = proportion(baseline, "baseline") + size
            spreads = proportion_spreads(baseline, proportion(harmful, "baseline + mde"), ratio)
        else:
            spreads = mean_spreads(positive(sigma, "sigma"), sigma, ratio)
        fixed = candidate_sample_size(*spreads, size, alpha, power, sides=1)
        design = group_sequential_design(looks, alpha, power, spending, sides=1)
        candidate_per_minute = rate * share
        return CanaryPlan(
            kind=kind,
            fixed_samples_candidate=math.ceil(fixed),
            fixed_samples_baseline=math.ceil(fixed / ratio),
            horizon_samples=math.ceil(fixed * design.inflation),
            horizon_samples_baseline=math.ceil(fixed * design.inflation / ratio),
            expected_samples_under_effect=math.ceil(fixed * design.expected_fraction_under_effect),
            inflation=design.inflation,
            bake_minutes=math.ceil(fixed * design.inflation) / candidate_per_minute,
            expected_minutes_under_effect=fixed * design.expected_fraction_under_effect / candidate_per_minute,
            fixed_minutes=math.ceil(fixed) / candidate_per_minute,
        )
    except OverflowError:
        raise ValueError(
            "the samples this plan needs are beyond any count: mde is too small for the metric's spread, or "
            "canary_share too close to 0 or 1"
        ) from None
