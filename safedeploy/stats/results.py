"""The result every fixed-horizon comparison returns, and the normal-theory pieces they share."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from safedeploy.stats.alternatives import Alternative, validate_alternative
from safedeploy.stats.normal import FloatArray, lower_tail, upper_quantile, upper_tail_scalar


@dataclass(frozen=True)
class ComparisonResult:
    """`effect` and `ci` are candidate (b) minus baseline (a); one-sided alternatives give one-sided intervals."""

    statistic: float
    p_value: float
    effect: float
    ci: tuple[float, float]
    n_a: int
    n_b: int
    alternative: Alternative


def validate_confidence(confidence: float) -> float:
    if not (isinstance(confidence, int | float) and 0.0 < confidence < 1.0):
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    return float(confidence)


def sample(values: npt.ArrayLike, name: str, minimum: int = 1) -> FloatArray:
    """A finite 1-D sample of at least `minimum` values, or a ValueError naming the sample."""
    array = np.asarray(values, dtype=float).ravel()
    if array.size < minimum:
        needed = "is empty" if array.size == 0 else f"has {array.size} value(s); at least {minimum} are needed"
        raise ValueError(f"sample {name} {needed}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"sample {name} contains NaN or infinite values")
    return array


def normal_p_value(statistic: float, alternative: Alternative) -> float:
    if alternative == "greater":
        return upper_tail_scalar(statistic)
    if alternative == "less":
        return float(lower_tail(statistic))
    return min(1.0, 2.0 * upper_tail_scalar(abs(statistic)))


def normal_interval(
    effect: float, standard_error: float, alternative: Alternative, confidence: float
) -> tuple[float, float]:
    """Wald interval for the effect, two-sided or the one-sided bound that matches the alternative."""
    if alternative == "two-sided":
        half_width = upper_quantile((1.0 - confidence) / 2.0) * standard_error
        return effect - half_width, effect + half_width
    width = upper_quantile(1.0 - confidence) * standard_error
    return (effect - width, math.inf) if alternative == "greater" else (-math.inf, effect + width)


def normal_result(
    statistic: float,
    effect: float,
    interval_standard_error: float,
    alternative: str,
    confidence: float,
    sizes: tuple[int, int],
) -> ComparisonResult:
    direction = validate_alternative(alternative)
    level = validate_confidence(confidence)
    return ComparisonResult(
        statistic=float(statistic),
        p_value=normal_p_value(statistic, direction),
        effect=float(effect),
        ci=normal_interval(effect, interval_standard_error, direction, level),
        n_a=sizes[0],
        n_b=sizes[1],
        alternative=direction,
    )
