"""Small-sample and rank tests backed by scipy.

scipy is imported inside each function: it is not in the canary-analysis Lambda (numpy + scipy exceed its size
budget), and nothing on the verdict path needs these tests, so importing `safedeploy.stats` must not load it.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from safedeploy.stats.alternatives import validate_alternative
from safedeploy.stats.normal import FloatArray, upper_quantile
from safedeploy.stats.results import ComparisonResult, sample, validate_confidence

_BISECTION_STEPS = 200


def welch_t_test(
    a: npt.ArrayLike, b: npt.ArrayLike, alternative: str = "two-sided", confidence: float = 0.95
) -> ComparisonResult:
    """t test of mean(b) - mean(a) without assuming equal variances (Welch-Satterthwaite degrees of freedom)."""
    from scipy import stats

    direction = validate_alternative(alternative)
    level = validate_confidence(confidence)
    first, second = sample(a, "a", minimum=2), sample(b, "b", minimum=2)
    if first.var(ddof=1) == 0.0 and second.var(ddof=1) == 0.0:
        raise ValueError("both samples have zero variance: the t statistic is undefined (use the raw difference)")
    result = stats.ttest_ind(second, first, equal_var=False, alternative=direction)
    interval = result.confidence_interval(confidence_level=level)
    return ComparisonResult(
        statistic=float(result.statistic),
        p_value=float(result.pvalue),
        effect=float(second.mean() - first.mean()),
        ci=(float(interval.low), float(interval.high)),
        n_a=first.size,
        n_b=second.size,
        alternative=direction,
    )


def mann_whitney(
    a: npt.ArrayLike, b: npt.ArrayLike, alternative: str = "two-sided", confidence: float = 0.95
) -> ComparisonResult:
    """Rank test of a shift of b against a; `statistic` is U of b and `effect` the Hodges-Lehmann shift.

    The interval is the distribution-free one of Moses (order statistics of the pairwise differences). Those are
    found by bisection over values with a sorted-search count, so memory stays linear in the sample sizes.
    """
    from scipy import stats

    direction = validate_alternative(alternative)
    level = validate_confidence(confidence)
    first, second = sample(a, "a"), sample(b, "b")
    result = stats.mannwhitneyu(second, first, alternative=direction)
    differences = _PairwiseDifferences(first, second)
    pairs = first.size * second.size
    effect = (differences.order_statistic((pairs + 1) // 2) + differences.order_statistic(pairs // 2 + 1)) / 2.0
    return ComparisonResult(
        statistic=float(result.statistic),
        p_value=float(result.pvalue),
        effect=float(effect),
        ci=_moses_interval(differences, direction, level),
        n_a=first.size,
        n_b=second.size,
        alternative=direction,
    )


def _moses_interval(differences: _PairwiseDifferences, alternative: str, confidence: float) -> tuple[float, float]:
    n_a, n_b = differences.sizes
    pairs = n_a * n_b
    tail = (1.0 - confidence) / (2.0 if alternative == "two-sided" else 1.0)
    spread = upper_quantile(tail) * math.sqrt(n_a * n_b * (n_a + n_b + 1) / 12.0)
    rank = round(pairs / 2.0 - spread)
    lower = differences.order_statistic(rank) if rank >= 1 else -math.inf
    upper = differences.order_statistic(pairs + 1 - rank) if rank >= 1 else math.inf
    if alternative == "greater":
        return lower, math.inf
    if alternative == "less":
        return -math.inf, upper
    return lower, upper


class _PairwiseDifferences:
    """The multiset {b_j - a_i} without materialising it."""

    def __init__(self, a: FloatArray, b: FloatArray) -> None:
        self._a = np.sort(a)
        self._b = b
        self.sizes = (a.size, b.size)

    def _count_at_most(self, value: float) -> int:
        return int(np.sum(self._a.size - np.searchsorted(self._a, self._b - value, side="left")))

    def order_statistic(self, rank: int) -> float:
        """The rank-th smallest difference (1-based)."""
        low, high = float(self._b.min() - self._a[-1]), float(self._b.max() - self._a[0])
        for _ in range(_BISECTION_STEPS):
            middle = (low + high) / 2.0
            if middle in (low, high):
                break
            if self._count_at_most(middle) >= rank:
                high = middle
            else:
                low = middle
        return high
