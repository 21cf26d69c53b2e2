"""What a canary must show, per guarded metric, before it is promoted or rolled back."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from safedeploy.decision import Decision
from safedeploy.errors import InputError
from safedeploy.stats.boundaries import validate_alpha, validate_looks
from safedeploy.stats.json_fields import finite, json_mapping, json_object, shown
from safedeploy.stats.normal import FloatArray
from safedeploy.stats.spending import Spending, spending_function

FamilyMethod = Literal["holm", "bonferroni"]
SequentialMethod = Literal["group", "msprt"]
InconclusiveDecision = Literal[Decision.ROLLBACK, Decision.CONTINUE]
_METRIC_KINDS = ("proportion", "mean", "median")
_HARM_DIRECTIONS = ("increase", "decrease")
_MARGIN_TYPES = ("absolute", "relative")


def _one_of(value: Any, allowed: tuple[str, ...], name: str) -> None:
    if value not in allowed:
        raise InputError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")


# Counts of samples or minutes beyond any canary (and beyond a float's exact integers, which the monitors use).
MAX_COUNT = 10**15


def _whole(value: Any, name: str, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {shown(value)}")
    if value > MAX_COUNT:
        raise InputError(f"{name} must be at most {MAX_COUNT:.0e}, got {shown(value)}")


@dataclass(frozen=True)
class MetricPolicy:
    """One guarded metric.

    `harm` is the direction that hurts (error rate and latency "increase", accuracy "decrease"). `margin` is how
    much worse the candidate may be and still count as non-inferior: absolute in the metric's units, or relative to
    the baseline's current value. `horizon` is the candidate-fleet sample count at information fraction 1 (take
    it from `plan_canary`); `looks` planned analyses are spread evenly over it. `min_samples` is required in each
    fleet before a PROMOTE. `tau` scales the mSPRT mixture (default: the absolute margin). For a mean metric
    without sums of squares, `min_periods` periods with data are needed before its variance estimate is trusted.
    A "median" metric (per-minute p50) is compared as a log ratio, so its margin must be relative.
    `ni_horizon` is the candidate sample at which non-inferiority must be shown (default: `horizon`);
    `late_alpha_share` is the part of the harm alpha given to a second test on the data after half the horizon,
    which catches a candidate that turns bad mid-bake (0 disables it). `last_look_minute`, counted from the
    candidate fleet's first minute with traffic, is a final look where the test ends if the horizon was not reached
    by then (a bake's last minute a ROLLBACK still stops): it spends the rest of alpha on what the bake gave.
    `horizon_minutes` makes the horizon time instead (a blue/green bake): look k of K is at minute k/K of it, counted
    from the candidate's first minute with traffic, alpha is spent by the elapsed share of those minutes whatever
    traffic arrived, and the late window is the second half of the minutes; `horizon` then only sizes reports.
    `late_spending` and `late_looks` (default: half the looks) are the late window's spending function and looks
    (O'Brien-Fleming by default: the window is there for the power at its end, not for early stops).
    `tolerance` (mean and median metrics) is the relative change in the harmful direction that is no harm: the harm
    test's null hypothesis becomes "worse by at most this much" (a shifted null), so a candidate inside it is rolled
    back at most alpha of the time however much traffic arrives.
    """

    kind: Literal["proportion", "mean"]
    harm: Literal["increase", "decrease"]
    margin: float
    horizon: int | None = None
    margin_type: Literal["absolute", "relative"] = "absolute"
    min_samples: int = 100
    looks: int = 10
    alpha: float = 0.05
    spending: Spending = "obf"
    late_spending: Spending = "obf"
    late_looks: int | None = None
    tau: float | None = None
    min_periods: int = 10
    ni_horizon: int | None = None
    late_alpha_share: float = 0.0
    last_look_minute: int | None = None
    horizon_minutes: int | None = None
    tolerance: float = 0.0

    def __post_init__(self) -> None:
        _one_of(self.kind, _METRIC_KINDS, "kind")
        _one_of(self.harm, _HARM_DIRECTIONS, "harm")
        _one_of(self.margin_type, _MARGIN_TYPES, "margin_type")
        margin = self.margin
        if isinstance(margin, bool) or not isinstance(margin, int | float) or not (finite(margin) and margin > 0):
            raise InputError(f"margin must be a positive number, got {shown(margin)}")
        if self.horizon is not None:
            _whole(self.horizon, "horizon", 1)
        if self.ni_horizon is not None:
            _whole(self.ni_horizon, "ni_horizon", 1)
        if self.last_look_minute is not None:
            _whole(self.last_look_minute, "last_look_minute", 1)
        if self.horizon_minutes is not None:
            _whole(self.horizon_minutes, "horizon_minutes", 1)
            if self.last_look_minute is not None:
                raise InputError("horizon_minutes already ends the test: drop last_look_minute")
        share = self.late_alpha_share
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0.0 <= share < 1.0:
            raise InputError(f"late_alpha_share must be a number in [0, 1), got {share!r}")
        tolerance = self.tolerance
        if isinstance(tolerance, bool) or not isinstance(tolerance, int | float) or not 0.0 <= tolerance < 10.0:
            raise InputError(f"tolerance must be a number in [0, 10), got {shown(tolerance)}")
        if tolerance and self.kind == "proportion":
            raise InputError("tolerance applies to mean and median metrics")
        if self.kind == "median" and self.margin_type != "relative":
            raise InputError("a median metric is compared as a log ratio: its margin_type must be relative")
        _whole(self.min_samples, "min_samples", 1)
        validate_looks(self.looks)
        if self.late_looks is not None:
            validate_looks(self.late_looks, "late_looks")
        _whole(self.min_periods, "min_periods", 2)
        validate_alpha(self.alpha)
        spending_function(self.spending)
        spending_function(self.late_spending)
        tau = self.tau
        if tau is not None and (
            isinstance(tau, bool) or not isinstance(tau, int | float) or not (finite(tau) and tau > 0)
        ):
            raise InputError(f"tau must be a positive number, got {shown(tau)}")

    @property
    def late_window_looks(self) -> int:
        return self.late_looks or max(1, math.ceil(self.looks / 2))

    @property
    def harm_sign(self) -> float:
        """+1 when an increase hurts, -1 when a decrease does: statistics are oriented so positive means harm."""
        return 1.0 if self.harm == "increase" else -1.0

    def absolute_margin(self, baseline: npt.ArrayLike) -> FloatArray:
        """The margin in the metric's units, per period (a relative margin follows the baseline's estimate)."""
        values = np.asarray(baseline, dtype=float)
        if self.kind == "median":
            return np.full(values.shape, math.log1p(self.margin))
        return (
            np.full(values.shape, float(self.margin))
            if self.margin_type == "absolute"
            else self.margin * np.abs(values)
        )

    def absolute_tolerance(self, baseline: npt.ArrayLike) -> FloatArray:
        """The harm test's null shift in the metric's units, per period (a log ratio for a median)."""
        values = np.asarray(baseline, dtype=float)
        if self.kind == "median":
            return np.full(values.shape, math.log1p(self.tolerance))
        return self.tolerance * np.abs(values)

    @classmethod
    def from_dict(cls, data: Any, where: str = "metric policy") -> MetricPolicy:
        names = [item.name for item in fields(cls)]
        values = json_object(data, where, required=("kind", "harm", "margin"), optional=names)
        try:
            return cls(**values)
        except ValueError as error:
            raise InputError(f"{where}: {error}") from None


@dataclass(frozen=True)
class CanaryPolicy:
    """All guarded metrics and how they are combined.

    `family` controls the chance of a false ROLLBACK across metrics (Holm step-down or Bonferroni). `sequential`
    picks planned looks with alpha spending ("group", the default: more power) or always-valid mSPRT p-values at
    every period ("msprt": any look is safe). `when_inconclusive` is what happens once a metric reaches its
    horizon without showing non-inferiority: ROLLBACK by default, because a bake that ends without a verdict would
    otherwise let an unproven model through. `promote: false` makes the verdict a pure harm detector that never
    stops watching: in a blue/green bake nothing acts on a PROMOTE, and a candidate that turns bad after showing
    non-inferiority must still be rolled back.
    """

    metrics: Mapping[str, MetricPolicy]
    family: FamilyMethod = "holm"
    sequential: SequentialMethod = "group"
    when_inconclusive: InconclusiveDecision = Decision.ROLLBACK
    promote: bool = True

    def __post_init__(self) -> None:
        if not self.metrics:
            raise InputError("policy.metrics is empty: guard at least one metric")
        _one_of(self.family, ("holm", "bonferroni"), "family")
        _one_of(self.sequential, ("group", "msprt"), "sequential")
        _one_of(self.when_inconclusive, (Decision.ROLLBACK, Decision.CONTINUE), "when_inconclusive")
        if not isinstance(self.promote, bool):
            raise InputError(f"promote must be true or false, got {self.promote!r}")
        if self.sequential == "group":
            missing = [
                name
                for name, metric in self.metrics.items()
                if metric.horizon is None and metric.horizon_minutes is None
            ]
            if missing:
                raise InputError(f"group-sequential looks need a horizon or horizon_minutes for: {', '.join(missing)}")

    @classmethod
    def from_dict(cls, data: Any, where: str = "policy") -> CanaryPolicy:
        optional = ("family", "sequential", "when_inconclusive", "promote")
        values = json_object(data, where, required=("metrics",), optional=optional)
        metrics = json_mapping(values.pop("metrics"), f"{where}.metrics")
        parsed = {name: MetricPolicy.from_dict(item, f"{where}.metrics.{name}") for name, item in metrics.items()}
        try:
            return cls(metrics=parsed, **values)
        except ValueError as error:
            raise InputError(f"{where}: {error}") from None

    def to_dict(self) -> dict[str, Any]:
        return {
            "metrics": {name: asdict(metric) for name, metric in self.metrics.items()},
            "family": self.family,
            "sequential": self.sequential,
            "when_inconclusive": self.when_inconclusive,
            "promote": self.promote,
        }
