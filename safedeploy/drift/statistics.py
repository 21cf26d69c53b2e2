"""The drift statistics: PSI for people, and an e-value detector for the alarm.

PSI = sum (q - p) ln(q / p) is the distance users know (below 0.1 nothing, above 0.25 a major shift), but it has no
false-alarm rate. The alarm instead uses, per column and hour, the likelihood ratio of the hour's bin counts under
a Dirichlet mixture of alternatives centred on the reference (concentration c) against the reference. Its
expectation under no drift is 1 (an e-value), with no large-sample approximation and no scipy.

The null is not the reference's shares taken as exact but their predictive given the training rows that estimated
them, so the baseline's own sampling error is not mistaken for drift however much traffic production sees.

Across hours the e-values feed a Shiryaev-Roberts statistic, R_t = (1 + R_{t-1}) E_t. Under no drift R_t - t is a
martingale, so R_t is a non-negative submartingale with E[R_T] = T and Doob's maximal inequality gives
P(max_{t<=T} R_t >= T / a) <= a: "p = T / max R" is a p-value valid however often it is looked at within a period of
T looks, while a drift that starts late is still caught quickly (R forgets the stable past, unlike a product of
e-values). Holm across columns on those p-values keeps the chance of any false alarm within the period <= alpha.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

PSI_MODERATE, PSI_MAJOR = 0.1, 0.25
_SMOOTHING = 0.5


def psi(reference: Sequence[float], counts: npt.ArrayLike) -> float:
    """Population stability index of the observed counts against the reference shares (counts smoothed)."""
    expected = np.asarray(reference, dtype=float)
    observed = np.asarray(counts, dtype=float)
    if observed.shape != expected.shape:
        raise ValueError(f"{observed.size} counts for {expected.size} reference bins")
    if observed.sum() <= 0:
        return 0.0
    shares = (observed + _SMOOTHING) / (observed.sum() + _SMOOTHING * observed.size)
    return float(np.sum((shares - expected) * np.log(shares / expected)))


def concentration(bins: int, sensitivity: float) -> float:
    """The Dirichlet concentration whose alternatives sit, on average, at chi-square distance `sensitivity` from
    the reference (E[sum (q-p)^2/p] = (K-1)/(c+1)); chi-square and PSI agree for small shifts, so a sensitivity of
    0.1 aims the test at PSI-0.1 drifts."""
    if not 0.0 < sensitivity <= 10.0:
        raise ValueError(f"sensitivity must be in (0, 10], got {sensitivity!r}")
    return max(1.0, (bins - 1) / sensitivity - 1.0)


def log_e_value(
    reference: Sequence[float], counts: npt.ArrayLike, concentration_c: float, reference_rows: int
) -> float:
    """log e-value of one hour's counts (0 when there are none): the Dirichlet-multinomial mixture of alternatives
    (concentration c) against the reference's own predictive, Dirichlet-multinomial with concentration equal to the
    training rows it was estimated from. Testing against exact shares instead would, at production volumes, detect
    the training sample's sampling error as drift; an alternative no more precise than the reference has no power."""
    shares = np.asarray(reference, dtype=float)
    observed = np.asarray(counts, dtype=np.int64)
    if observed.shape != shares.shape:
        raise ValueError(f"{observed.size} counts for {shares.size} reference bins")
    if not observed.sum():
        return 0.0
    return _log_dirichlet_multinomial(observed, concentration_c * shares) - _log_dirichlet_multinomial(
        observed, reference_rows * shares
    )


def _log_dirichlet_multinomial(observed: np.ndarray, prior: np.ndarray) -> float:
    """log P(counts) under a Dirichlet(prior) mixture of multinomials, less the multinomial coefficient (which the
    ratio cancels)."""
    lgamma = np.vectorize(math.lgamma, otypes=[float])
    total, concentration_sum = float(observed.sum()), float(prior.sum())
    head = math.lgamma(concentration_sum) - math.lgamma(total + concentration_sum)
    return head + float(np.sum(lgamma(observed + prior) - lgamma(prior)))


def shiryaev_roberts(log_r: float, log_e: float) -> float:
    """log R_t from log R_{t-1} (-inf before the first look) and this look's log e-value."""
    return float(np.logaddexp(0.0, log_r) + log_e)


def period_p_value(max_log_r: float, period_looks: int) -> float:
    """min(1, T / max R): valid at every look of a period of T looks (Doob's inequality)."""
    if period_looks < 1:
        raise ValueError(f"a period needs at least one look, got {period_looks}")
    if max_log_r == -math.inf:
        return 1.0
    return float(min(1.0, math.exp(math.log(period_looks) - max_log_r)))


def holm(p_values: Mapping[str, float], alpha: float) -> set[str]:
    """Names Holm's step-down rejects at family-wise level alpha."""
    rejected: set[str] = set()
    for rank, (name, p_value) in enumerate(sorted(p_values.items(), key=lambda item: item[1])):
        if p_value > alpha / (len(p_values) - rank):
            break
        rejected.add(name)
    return rejected
