"""Sample-ratio mismatch: is each fleet receiving the share of requests the deployment planned for it?

Zero requests carry no evidence of harm, so without this check a dead or unmeasured candidate would bake to
completion. Once SageMaker has turned the candidate's traffic on, each fleet's Invocations are compared with the
planned split, conditionally on the total: under the
plan the candidate's count out of n requests is Binomial(n, p). SageMaker's rounding to whole instances and its
routing are not documented exactly, so the null hypothesis is a band, not a point: the candidate:baseline odds may
be anywhere within a factor `ODDS_TOLERANCE` of the plan. A mismatch is declared only when an exact binomial tail at
the band's edge is below the per-test alpha (the tail is monotone in p, so every true share inside the band is
rejected at most that often).

Data timing is not a split. Only settled minutes are judged (all but the newest `SETTLE_MINUTES`), and only minutes
for which CloudWatch returned a datapoint for both fleets: a minute one fleet has and the other has not (yet) is
missing, not zero requests, so lost and late minutes, and gaps, never count. A fleet that reports nothing at all
through a whole window of `silent_minutes` settled minutes while the other serves in every one of them is silent:
that window counts its requests as zero (a dead fleet may publish no datapoints rather than zeros).

False alarms are bounded over a whole deployment: the environment's `sample_ratio.alpha` is split (Bonferroni)
over the minute looks a deployment can have (its maximum execution time) and the tests of each look. Two windows
are tested: the last `silent_minutes` minutes (a fleet that went silent mid-bake: "received no requests") and
everything since the candidate's current share began. During a blue/green rollout later steps raise the
candidate's share and the final step silences the baseline, so there only a too-small candidate share is a mismatch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from safedeploy.canary.fleets import Comparison
from safedeploy.guardrails.settings import SampleRatioSettings
from safedeploy.stats.binomial import binomial_cdf, binomial_sf

# How far (as a factor on the candidate:baseline odds) the observed split may stray from the plan under the null.
ODDS_TOLERANCE = 2.0
PERIOD = timedelta(minutes=1)
# Minutes are judged once they are older than this: CloudWatch may still be aggregating the newest one.
SETTLE_MINUTES = 1


def _fraction(odds: float) -> float:
    return odds / (1 + odds)


def band(expected_fraction: float) -> tuple[float, float]:
    """The candidate fractions the null allows: the planned odds divided and multiplied by ODDS_TOLERANCE."""
    odds = expected_fraction / (1 - expected_fraction)
    return _fraction(odds / ODDS_TOLERANCE), _fraction(odds * ODDS_TOLERANCE)


@dataclass(frozen=True)
class SampleRatio:
    """`mismatch` holds the one-line reason for a ROLLBACK, None when the split is consistent with the plan."""

    mismatch: str | None
    details: dict[str, Any]


def _served_minutes(grid: list[datetime], since: datetime) -> np.ndarray:
    """Settled minutes wholly after the candidate's traffic came on, with one more minute for routing to settle."""
    first = since.replace(second=0, microsecond=0) + (PERIOD if since.second or since.microsecond else timedelta())
    served = np.array([minute >= first + PERIOD for minute in grid], dtype=bool)
    served[max(0, len(grid) - SETTLE_MINUTES) :] = False
    return served


def _percent(value: float) -> str:
    return f"{100 * value:.1f} %"


def _silent(window: np.ndarray, mine: np.ndarray, other: np.ndarray, at_least: int) -> bool:
    """`mine` reported no requests in any of the window's (at least `at_least`) minutes while `other` served in
    every one of them."""
    quiet = ~np.isfinite(mine[window]) | (np.nan_to_num(mine[window]) == 0)
    serving = np.isfinite(other[window]) & (np.nan_to_num(other[window]) > 0)
    return bool(window.sum() >= at_least and quiet.all() and serving.all())


def _window_counts(window: np.ndarray, mine: np.ndarray, other: np.ndarray, silent_minutes: int) -> tuple[int, int]:
    """(mine, other) over the window's minutes both fleets reported, or over all of it when `mine` is silent."""
    silent = _silent(window, mine, other, silent_minutes)
    minutes = window if silent else window & np.isfinite(mine) & np.isfinite(other)
    return int(np.nan_to_num(mine[minutes]).sum()), int(np.nan_to_num(other[minutes]).sum())


def check_sample_ratio(
    comparison: Comparison,
    grid: list[datetime],
    baseline_requests: np.ndarray,
    candidate_requests: np.ndarray,
    settings: SampleRatioSettings,
    looks: int,
) -> SampleRatio:
    """Test the fleets' per-minute Invocations on `grid` (NaN where CloudWatch returned no datapoint) against the
    comparison's planned split."""
    planned = comparison.expected_fraction
    if comparison.traffic_since is None or not 0 < planned < 1:
        why = "the candidate's traffic is not on yet" if comparison.traffic_since is None else "no split planned"
        return SampleRatio(None, {"status": "not applicable", "why": why, "planned_fraction": planned})
    low, high = band(planned)
    two_sided = not comparison.share_can_grow
    tests = 2 * (2 if two_sided else 1)
    alpha = settings.alpha / (max(1, looks) * tests)
    served = _served_minutes(grid, comparison.traffic_since)
    candidate_requests = np.asarray(candidate_requests, dtype=float)
    baseline_requests = np.asarray(baseline_requests, dtype=float)
    details: dict[str, Any] = {
        "status": "consistent",
        "planned_fraction": planned,
        "band": [low, high],
        "alpha": settings.alpha,
        "alpha_per_test": alpha,
        "traffic_since": comparison.traffic_since.isoformat(),
    }
    windows = {"since_traffic_began": served}
    if served.sum() >= settings.silent_minutes:
        recent = served.copy()
        recent[: int(np.flatnonzero(served)[-settings.silent_minutes])] = False
        windows = {f"last_{settings.silent_minutes}_minutes": recent, **windows}
    for name, mask in windows.items():
        candidate, baseline = _window_counts(mask, candidate_requests, baseline_requests, settings.silent_minutes)
        total = candidate + baseline
        # P(at most this few candidate requests | share at the band's low edge), and the same for the baseline.
        p_few = binomial_cdf(candidate, total, low) if total else 1.0
        few_baseline, many_candidate = _window_counts(
            mask, baseline_requests, candidate_requests, settings.silent_minutes
        )
        p_many = (
            binomial_sf(many_candidate, many_candidate + few_baseline, high)
            if few_baseline + many_candidate and two_sided
            else 1.0
        )
        details[name] = {
            "minutes": int(mask.sum()),
            "candidate": candidate,
            "baseline": baseline,
            "observed_fraction": candidate / total if total else None,
            "p_too_few": p_few,
            "p_too_many": p_many,
        }
        span = "since its traffic began" if name == "since_traffic_began" else f"in the last {int(mask.sum())} minutes"
        if p_few < alpha:
            details["status"] = "mismatch"
            what = (
                "no requests" if candidate == 0 else f"{candidate} of {total} requests ({_percent(candidate / total)})"
            )
            return SampleRatio(
                f"candidate fleet received {what} {span} while the baseline served {baseline}; planned "
                f"{_percent(planned)} (sample-ratio mismatch, p = {p_few:.2g} < {alpha:.2g})",
                details,
            )
        if p_many < alpha:
            details["status"] = "mismatch"
            what = "no requests" if few_baseline == 0 else f"{few_baseline} of {few_baseline + many_candidate} requests"
            return SampleRatio(
                f"baseline fleet received {what} {span} while the candidate served {many_candidate}; planned candidate "
                f"share {_percent(planned)} (sample-ratio mismatch, p = {p_many:.2g} < {alpha:.2g})",
                details,
            )
    return SampleRatio(None, details)
