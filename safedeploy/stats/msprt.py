"""Always-valid p-values from the mixture sequential probability ratio test (Robbins 1970; Johari et al. 2017).

For an estimate x of a difference with variance v, the likelihood ratio against the null, averaged over a normal
mixture of alternatives with scale tau, is a (super)martingale under the null. By Ville's inequality the running
minimum of its reciprocal is a p-value that stays valid however often, and whenever, one looks: the property the
canary needs when the analysis runs every minute instead of at planned looks. It serves means and proportions
alike because both enter as (estimate, variance of the estimate); the variance is plugged in, as in the papers.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from safedeploy.stats.alternatives import validate_alternative
from safedeploy.stats.normal import FloatArray, lower_tail

_NEGLIGIBLE_SIDE = -8.0  # beyond this the one-sided mixture ratio is below 1, so it cannot lower the p-value


def always_valid_p_values(
    effects: npt.ArrayLike,
    variances: npt.ArrayLike,
    tau: float,
    null: float = 0.0,
    alternative: str = "greater",
) -> FloatArray:
    """p-value after each look, non-increasing; look i used estimate effects[i] with variance variances[i]."""
    direction = validate_alternative(alternative)
    if not (math.isfinite(tau) and tau > 0.0):
        raise ValueError(f"tau (the mixture scale, in the effect's units) must be positive, got {tau!r}")
    estimate = np.atleast_1d(np.asarray(effects, dtype=float))
    variance = np.atleast_1d(np.asarray(variances, dtype=float))
    if estimate.shape != variance.shape:
        raise ValueError("effects and variances must have the same length")
    if not (np.all(np.isfinite(estimate)) and np.all(np.isfinite(variance)) and np.all(variance > 0.0)):
        raise ValueError("every look needs a finite effect and a positive, finite variance")
    shift = estimate - null if direction != "less" else null - estimate
    shrink = variance / (variance + tau * tau)
    standardized = shift * tau / np.sqrt(variance * (variance + tau * tau))
    log_ratio = 0.5 * np.log(shrink) + 0.5 * standardized * standardized
    if direction != "two-sided":
        relevant = standardized > _NEGLIGIBLE_SIDE
        log_tail = np.log(lower_tail(np.where(relevant, standardized, 0.0)))
        log_ratio = np.where(relevant, log_ratio + math.log(2.0) + log_tail, -np.inf)
    return np.minimum.accumulate(np.minimum(1.0, np.exp(-log_ratio)))


def msprt_p_value(
    effects: npt.ArrayLike,
    variances: npt.ArrayLike,
    tau: float,
    null: float = 0.0,
    alternative: str = "greater",
) -> float:
    """Always-valid p-value after the last of the given looks (a scalar effect and variance is one look).

    `effects` are estimates of candidate minus baseline, `variances` the variance of each estimate
    (sigma_a^2/n_a + sigma_b^2/n_b for means, p(1-p)/n summed over fleets for proportions), and `tau` the scale
    of effects worth detecting; a value near the minimum detectable effect keeps the test sensitive where it matters.
    """
    return float(always_valid_p_values(effects, variances, tau, null, alternative)[-1])
