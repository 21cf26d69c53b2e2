"""Standard normal distribution on numpy arrays without scipy.

The canary-analysis Lambda ships numpy but not scipy, so the tail probabilities the sequential machinery needs are
built here from ``math.erfc`` (accurate far into the tails, where ``1 - cdf`` would cancel to zero) and quantiles
come from ``statistics.NormalDist``.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

STANDARD_NORMAL = NormalDist()
# Variance of a sample median over that of the mean for normal data (of log latency): a median's information cost.
MEDIAN_VARIANCE_FACTOR = math.pi / 2.0
_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_ERFC = np.frompyfunc(math.erfc, 1, 1)

FloatArray = npt.NDArray[np.float64]


def upper_tail(x: npt.ArrayLike) -> FloatArray:
    """P(Z > x), elementwise."""
    values = np.asarray(x, dtype=float) * _SQRT_HALF
    return 0.5 * np.asarray(_ERFC(values), dtype=float)


def lower_tail(x: npt.ArrayLike) -> FloatArray:
    """P(Z < x), elementwise."""
    return upper_tail(-np.asarray(x, dtype=float))


def density(x: npt.ArrayLike) -> FloatArray:
    values = np.asarray(x, dtype=float)
    return _INV_SQRT_2PI * np.exp(-0.5 * values * values)


def upper_quantile(probability: float) -> float:
    """The z with P(Z > z) = probability; +inf for 0 so a look that may spend nothing can never reject."""
    if probability <= 0.0:
        return math.inf
    if probability >= 1.0:
        return -math.inf
    return -STANDARD_NORMAL.inv_cdf(probability)


def upper_tail_scalar(x: float) -> float:
    return 0.5 * math.erfc(x * _SQRT_HALF)


def normal_equivalent_of_t(t: npt.ArrayLike, degrees_of_freedom: npt.ArrayLike) -> FloatArray:
    """The z with the same tail probability as Student's t, by Wallace's (1959) transformation.

    A mean metric without sums of squares estimates its variance from a few dozen per-minute means, so its
    statistic is t-like; comparing it to normal boundaries unconverted would reject too often early in a bake.
    The transformation errs slightly towards smaller |z| (conservative); infinite degrees of freedom leave t as is.
    """
    statistic = np.asarray(t, dtype=float)
    freedom = np.asarray(degrees_of_freedom, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        shrunk = (8.0 * freedom + 1.0) / (8.0 * freedom + 3.0) * np.sqrt(freedom * np.log1p(statistic**2 / freedom))
    return np.where(np.isfinite(freedom), np.sign(statistic) * shrunk, statistic)
