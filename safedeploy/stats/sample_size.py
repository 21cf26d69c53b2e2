"""Fixed-horizon sample size for a difference of means or of proportions (normal approximation).

One formula serves equal and unequal fleets: n_b = ((z_alpha * s0 + z_power * s1) / mde)^2, where s0 and s1 are the
standard deviations of one candidate-sized unit of the difference under the null and under the alternative.
"""

from __future__ import annotations

import math

from safedeploy.stats.boundaries import validate_alpha, validate_sides
from safedeploy.stats.normal import upper_quantile


def finite_nonzero(value: float, name: str) -> float:
    if not (isinstance(value, int | float) and math.isfinite(value) and value != 0.0):
        raise ValueError(f"{name} must be a finite, non-zero number, got {value!r}")
    return float(value)


def positive(value: float, name: str) -> float:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0.0):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def proportion(value: float, name: str) -> float:
    if not (isinstance(value, int | float) and 0.0 < value < 1.0):
        raise ValueError(f"{name} must be a proportion in (0, 1), got {value!r}")
    return float(value)


def candidate_sample_size(
    null_spread: float, alternative_spread: float, mde: float, alpha: float, power: float, sides: int
) -> float:
    """Unrounded candidate-fleet n; callers round up once they have scaled it."""
    validate_alpha(alpha)
    validate_alpha(power, "power")
    z_alpha, z_power = upper_quantile(alpha / validate_sides(sides)), upper_quantile(1.0 - power)
    return ((z_alpha * null_spread + z_power * alternative_spread) / mde) ** 2


def mean_spreads(sigma_a: float, sigma_b: float, ratio: float) -> tuple[float, float]:
    """ratio = n_b / n_a; the same variance under both hypotheses."""
    spread = math.sqrt(sigma_b**2 + sigma_a**2 * ratio)
    return spread, spread


def proportion_spreads(p_a: float, p_b: float, ratio: float) -> tuple[float, float]:
    """Pooled rate under the null (what the z test uses), each fleet's own rate under the alternative (Fleiss)."""
    pooled = (p_a + ratio * p_b) / (1.0 + ratio)
    null_spread = math.sqrt(pooled * (1.0 - pooled) * (1.0 + ratio))
    return null_spread, math.sqrt(p_b * (1.0 - p_b) + p_a * (1.0 - p_a) * ratio)


def sample_size_means(
    sigma_a: float, sigma_b: float, mde: float, alpha: float = 0.05, power: float = 0.8, sides: int = 2
) -> int:
    """n per group so a difference of `mde` in means is detected with the given power."""
    spreads = mean_spreads(positive(sigma_a, "sigma_a"), positive(sigma_b, "sigma_b"), 1.0)
    return math.ceil(candidate_sample_size(*spreads, finite_nonzero(mde, "mde"), alpha, power, sides))


def sample_size_proportions(p_a: float, p_b: float, alpha: float = 0.05, power: float = 0.8, sides: int = 2) -> int:
    """n per group to tell rate p_b from p_a with the given power."""
    first, second = proportion(p_a, "p_a"), proportion(p_b, "p_b")
    if first == second:
        raise ValueError("p_a and p_b are equal: there is no difference to detect")
    spreads = proportion_spreads(first, second, 1.0)
    return math.ceil(candidate_sample_size(*spreads, second - first, alpha, power, sides))
