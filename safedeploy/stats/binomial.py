"""Exact binomial tails in numpy, for code that runs where scipy is not bundled (the canary Lambda's layer) and for
synth-time checks."""

from __future__ import annotations

import numpy as np


def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p), exact: the log-pmf by its ratio recurrence, summed in log space.

    numpy only (the canary Lambda's layer carries no scipy); n is at most a few hundred thousand requests.
    """
    if k < 0:
        return 0.0
    if k >= n or p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0
    steps = np.arange(k, dtype=float)
    log_pmf = n * np.log1p(-p) + np.concatenate(
        ([0.0], np.cumsum(np.log(n - steps) - np.log(steps + 1) + np.log(p) - np.log1p(-p)))
    )
    top = float(log_pmf.max())
    return float(min(1.0, np.exp(top) * np.exp(log_pmf - top).sum()))


def binomial_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p): the lower tail of the other outcome."""
    return binomial_cdf(n - k, n, 1.0 - p)
