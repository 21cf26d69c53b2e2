"""Harm test for rare, bursty, clustered error counts: exact, conditional on each minute, with a dispersion guard.

Within one minute both fleets see the same load, so the minute is a stratum (Mantel-Haenszel): given a minute's
total errors e_j, under "no harm" each error fell on the candidate with probability pi_j, the candidate's share of
that minute's requests. Conditioning removes whatever the baseline rate does from minute to minute (shared drift,
bursty traffic, a changing share) and needs no estimate of the rate itself. The candidate's total is then a sum of
independent Bernoulli(pi_j) trials, one per error, whose exact (Poisson-binomial) upper tail is the p-value: with
two errors in the whole bake it cannot reach significance by chance, which a pooled z (one candidate error against
none gives z = sqrt(n_a / n_b)) does. Past `EXACT_LIMIT` errors the normal form with a continuity correction is
used; the two agree closely there.

Errors that come in bursts (one bad request cascading, an instance's bad minute) are not independent trials: the
minute-level Pearson dispersion of the conditional residuals measures how much more they scatter than binomial,
and the statistic is divided by its square root. The dispersion is shrunk towards 1 with the weight of
`DISPERSION_PRIOR_MINUTES` error-minutes, so one burst early in a bake cannot be mistaken for strong evidence and
a few quiet minutes cannot claim there is no clustering; it never goes below 1.
"""

from __future__ import annotations

import math

import numpy as np

from safedeploy.stats.normal import FloatArray, upper_quantile

EXACT_LIMIT = 2000
DISPERSION_PRIOR_MINUTES = 10.0
_TAIL_FLOOR = 1e-300


def candidate_shares(trials_a: FloatArray, trials_b: FloatArray) -> FloatArray:
    """Per-period share of requests that went to the candidate (0 where neither fleet served any)."""
    total = trials_a + trials_b
    return np.divide(trials_b, total, out=np.zeros_like(total), where=total > 0)


def _binomial_pmf(trials: int, probability: float) -> FloatArray:
    k = np.arange(trials + 1)
    log_comb = np.array([math.lgamma(trials + 1) - math.lgamma(i + 1) - math.lgamma(trials - i + 1) for i in k])
    if probability <= 0.0:
        return (k == 0).astype(float)
    if probability >= 1.0:
        return (k == trials).astype(float)
    return np.exp(log_comb + k * math.log(probability) + (trials - k) * math.log1p(-probability))


def exact_upper_tails(events_a: FloatArray, events_b: FloatArray, shares: FloatArray) -> FloatArray:
    """P(candidate errors >= observed | each period's total) after each period; NaN once past EXACT_LIMIT."""
    tails = np.full(events_a.size, np.nan)
    pmf = np.ones(1)
    observed = 0
    for period, (a, b, share) in enumerate(zip(events_a.astype(int), events_b.astype(int), shares, strict=True)):
        if a + b:
            if pmf.size + a + b > EXACT_LIMIT:
                break
            pmf = np.convolve(pmf, _binomial_pmf(a + b, float(share)))
            observed += b
        tails[period] = float(pmf[observed:].sum())
    return np.minimum(tails, 1.0)


def dispersion(residuals: FloatArray, variances: FloatArray, events: FloatArray) -> FloatArray:
    """Shrunk Pearson dispersion after each period, residuals centred on the running shift per error."""
    count = np.cumsum(events)
    shift = np.divide(np.cumsum(residuals), count, out=np.zeros_like(count), where=count > 0)
    # sum (r_j - shift e_j)^2 = sum r^2 - 2 shift sum r e + shift^2 sum e^2, all cumulative
    squares = np.cumsum(residuals**2) - 2.0 * shift * np.cumsum(residuals * events) + shift**2 * np.cumsum(events**2)
    information = np.cumsum(variances)
    minutes = np.cumsum(events > 0).astype(float)
    pearson = np.divide(squares, information, out=np.ones_like(information), where=information > 0)
    usable = minutes > 1.0
    raw = np.where(usable, pearson * minutes / np.maximum(minutes - 1.0, 1.0), 1.0)
    shrunk = (minutes * raw + DISPERSION_PRIOR_MINUTES) / (minutes + DISPERSION_PRIOR_MINUTES)
    return np.maximum(shrunk, 1.0)


def stratified_harm_z(
    events_a: FloatArray, trials_a: FloatArray, events_b: FloatArray, trials_b: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Harm z (candidate's errors above its share) after each period, and the dispersion applied to it.

    The z is the normal quantile of the exact conditional p-value (or the continuity-corrected score statistic
    past the exact limit), divided by the square root of the dispersion; 0 while no error has been seen.
    """
    shares = candidate_shares(trials_a, trials_b)
    events = events_a + events_b
    residuals = events_b - shares * events
    variances = shares * (1.0 - shares) * events
    phi = dispersion(residuals, variances, events)
    score, information = np.cumsum(residuals), np.cumsum(variances)
    with np.errstate(divide="ignore", invalid="ignore"):
        corrected = np.where(information > 0, (score - 0.5) / np.sqrt(information), 0.0)
    tails = exact_upper_tails(events_a, events_b, shares)
    clipped = np.clip(tails, _TAIL_FLOOR, 1.0 - 1e-12)
    exact = np.array([upper_quantile(p) if np.isfinite(p) else np.nan for p in clipped])
    z = np.where(np.isfinite(exact), exact, corrected)
    z = np.where(np.cumsum(events) > 0, z, 0.0)
    return z / np.sqrt(phi), phi
