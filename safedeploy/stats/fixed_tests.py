"""Fixed-horizon z tests on raw samples and on counts; numpy only, so the Lambda can run them.

Effects are candidate (b) minus baseline (a), the sign a canary reasons in, unlike a "who wins" test.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from safedeploy.stats.results import ComparisonResult, normal_result, sample


def z_test(
    a: npt.ArrayLike, b: npt.ArrayLike, alternative: str = "two-sided", confidence: float = 0.95
) -> ComparisonResult:
    """Large-sample test of mean(b) - mean(a) with each sample's own variance (unpooled)."""
    first, second = sample(a, "a", minimum=2), sample(b, "b", minimum=2)
    standard_error = math.sqrt(first.var(ddof=1) / first.size + second.var(ddof=1) / second.size)
    if standard_error == 0.0:
        raise ValueError("both samples have zero variance: the z statistic is undefined (use the raw difference)")
    effect = float(second.mean() - first.mean())
    return normal_result(
        effect / standard_error, effect, standard_error, alternative, confidence, (first.size, second.size)
    )


def two_proportion_test(
    x_a: float, n_a: float, x_b: float, n_b: float, alternative: str = "two-sided", confidence: float = 0.95
) -> ComparisonResult:
    """Pooled z test of p_b - p_a with an unpooled Wald interval.

    When the pooled proportion is 0 or 1 both fleets agree exactly; the result is then defined as statistic 0 and
    p-value 1 (what an exact test gives) instead of 0/0.
    """
    successes_a, trials_a = validate_counts(x_a, n_a, "a")
    successes_b, trials_b = validate_counts(x_b, n_b, "b")
    rate_a, rate_b = successes_a / trials_a, successes_b / trials_b
    effect = rate_b - rate_a
    pooled = (successes_a + successes_b) / (trials_a + trials_b)
    pooled_error = math.sqrt(pooled * (1.0 - pooled) * (1.0 / trials_a + 1.0 / trials_b))
    interval_error = math.sqrt(rate_a * (1.0 - rate_a) / trials_a + rate_b * (1.0 - rate_b) / trials_b)
    sizes = (round(trials_a), round(trials_b))
    result = normal_result(
        effect / pooled_error if pooled_error > 0.0 else 0.0, effect, interval_error, alternative, confidence, sizes
    )
    return replace(result, p_value=1.0) if pooled_error == 0.0 else result


def validate_counts(successes: float, trials: float, name: str) -> tuple[float, float]:
    """Counts may be floats (CloudWatch sums are) but must be finite, trials positive and successes within them."""
    values = np.array([successes, trials], dtype=float)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"x_{name} and n_{name} must be finite numbers")
    if values[1] <= 0.0:
        raise ValueError(f"n_{name} must be positive, got {trials!r}")
    if not 0.0 <= values[0] <= values[1]:
        raise ValueError(f"x_{name} must be between 0 and n_{name} ({trials!r}), got {successes!r}")
    return float(values[0]), float(values[1])
