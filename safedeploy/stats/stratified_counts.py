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
`DISPERSION_PRIOR_MINUTES` error-minutes and never goes below 1; where it exceeds 1 the statistic is t-like (the
dispersion is estimated from the minutes with errors) and is mapped to the normal scale with that many degrees of
freedom, so one burst early in a bake cannot pass for strong evidence. A second guard takes the minute as the unit
(a sandwich variance, the sum of squared minute residuals) with Satterthwaite degrees of freedom; the harm z is the
smaller of the two.
"""

from __future__ import annotations

import math

import numpy as np

from safedeploy.stats.normal import FloatArray, normal_equivalent_of_t, upper_quantile

EXACT_LIMIT = 2000
DISPERSION_PRIOR_MINUTES = 3.0
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


def centred_squares(residuals: FloatArray, events: FloatArray) -> FloatArray:
    """Running sum of squared residuals centred on the running shift per error (a real harm is not scatter)."""
    count = np.cumsum(events)
    shift = np.divide(np.cumsum(residuals), count, out=np.zeros_like(count), where=count > 0)
    # sum (r_j - shift e_j)^2 = sum r^2 - 2 shift sum r e + shift^2 sum e^2, all cumulative
    return np.cumsum(residuals**2) - 2.0 * shift * np.cumsum(residuals * events) + shift**2 * np.cumsum(events**2)


def leave_one_out_squares(residuals: FloatArray, events: FloatArray) -> FloatArray:
    """After each period k: sum over minutes j <= k of (r_j - u_(-j) e_j)^2, where u_(-j) is the shift per error of
    the other minutes. Centring keeps a real harm from passing for scatter; leaving the minute out keeps one burst
    from centring itself away (which would make the largest bursts look like no scatter at all)."""
    with_errors = np.flatnonzero(events > 0)
    out = np.zeros(events.size)
    if with_errors.size == 0:
        return out
    r, e = residuals[with_errors], events[with_errors]
    total_r, total_e = np.cumsum(r), np.cumsum(e)  # after each error-minute k
    others_r = total_r[:, None] - r[None, :]  # [k, j]
    others_e = total_e[:, None] - e[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where(others_e > 0, others_r / others_e, 0.0)
    terms = (r[None, :] - shift * e[None, :]) ** 2
    included = np.arange(r.size)[None, :] <= np.arange(r.size)[:, None]
    per_error_minute = np.sum(np.where(included, terms, 0.0), axis=1)
    positions = np.searchsorted(with_errors, np.arange(events.size), side="right") - 1
    return np.where(positions >= 0, per_error_minute[np.maximum(positions, 0)], 0.0)


def dispersion(residuals: FloatArray, variances: FloatArray, events: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Shrunk Pearson dispersion after each period (never below 1), and the degrees of freedom behind it."""
    squares = centred_squares(residuals, events)
    information = np.cumsum(variances)
    minutes = np.cumsum(events > 0).astype(float)
    pearson = np.divide(squares, information, out=np.ones_like(information), where=information > 0)
    raw = np.where(minutes > 1.0, pearson * minutes / np.maximum(minutes - 1.0, 1.0), 1.0)
    shrunk = (minutes * raw + DISPERSION_PRIOR_MINUTES) / (minutes + DISPERSION_PRIOR_MINUTES)
    return np.maximum(shrunk, 1.0), minutes + DISPERSION_PRIOR_MINUTES - 1.0


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
    phi, freedom = dispersion(residuals, variances, events)
    score, information = np.cumsum(residuals), np.cumsum(variances)
    with np.errstate(divide="ignore", invalid="ignore"):
        corrected = np.where(information > 0, (score - 0.5) / np.sqrt(information), 0.0)
    tails = exact_upper_tails(events_a, events_b, shares)
    clipped = np.clip(tails, _TAIL_FLOOR, 1.0 - 1e-12)
    exact = np.array([upper_quantile(p) if np.isfinite(p) else np.nan for p in clipped])
    z = np.where(np.isfinite(exact), exact, corrected)
    z = np.where(np.cumsum(events) > 0, z, 0.0)
    # where clustering was found its estimate is itself uncertain: t-like, on the minutes with errors
    clustered = np.where(phi > 1.0, normal_equivalent_of_t(z / np.sqrt(phi), freedom), z)
    # and the minute is the unit: the sandwich variance (sum of squared residuals) with J - 1 degrees of freedom
    squares = leave_one_out_squares(residuals, events)
    with np.errstate(divide="ignore", invalid="ignore"):
        sandwich = np.where(squares > 0, (score - 0.5) / np.sqrt(squares), 0.0)
    minutes = np.cumsum(events > 0).astype(float)
    robust = np.where(minutes >= 2, normal_equivalent_of_t(sandwich, sandwich_freedom(variances)), clustered)
    return np.minimum(clustered, robust), phi


def sandwich_freedom(variances: FloatArray) -> FloatArray:
    """Satterthwaite degrees of freedom of the minute-level sandwich after each period, from the working model's
    per-minute variances v_j: (sum v)^2 / sum v^2 - 1 (Bell and McCaffrey 2002; Imbens and Kolesar 2016).

    With equal minutes it is J - 1; when a few busy minutes carry most of the variance (bursty traffic) the sum of
    squares rests on those few, and counting every minute with an error as a full degree of freedom made the
    statistic too liberal (false rollbacks 0.07 at a nominal 0.05 with overdispersed errors in bursty traffic).
    """
    total, squares = np.cumsum(variances), np.cumsum(variances**2)
    with np.errstate(divide="ignore", invalid="ignore"):
        freedom = np.where(squares > 0, total * total / squares - 1.0, 1.0)
    return np.maximum(freedom, 1.0)
