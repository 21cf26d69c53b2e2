"""Sample-ratio mismatch: is each fleet receiving the share of requests the deployment planned for it?

A fleet whose metrics are missing reads as zero requests, and zero requests carry no evidence of harm, so without
this check a dead or unmeasured candidate would bake to completion. Once SageMaker has turned the candidate's
traffic on, each fleet's Invocations are compared with the planned split, conditionally on the total: under the
plan the candidate's count out of n requests is Binomial(n, p). SageMaker's rounding to whole instances and its
routing are not documented exactly, so the null hypothesis is a band, not a point: the candidate:baseline odds may
be anywhere within a factor `ODDS_TOLERANCE` of the plan. A mismatch is declared only when an exact binomial tail at
the band's edge is below the per-test alpha (the tail is monotone in p, so every true share inside the band is
rejected at most that often).

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
    """Minutes wholly after the candidate's traffic came on, with one more minute for routing to settle."""
    first = since.replace(second=0, microsecond=0) + (PERIOD if since.second or since.microsecond else timedelta())
    return np.array([minute >= first + PERIOD for minute in grid], dtype=bool)


def _percent(value: float) -> str:
    return f"{100 * value:.1f} %"


def check_sample_ratio(
    comparison: Comparison,
    grid: list[datetime],
    baseline_requests: np.ndarray,
    candidate_requests: np.ndarray,
    settings: SampleRatioSettings,
    looks: int,
) -> SampleRatio:
    """Test the fleets' per-minute Invocations on `grid` against the comparison's planned split."""
    planned = comparison.expected_fraction
    if comparison.traffic_since is None or not 0 < planned < 1:
        why = "the candidate's traffic is not on yet" if comparison.traffic_since is None else "no split planned"
        return SampleRatio(None, {"status": "not applicable", "why": why, "planned_fraction": planned})
    low, high = band(planned)
    two_sided = not comparison.share_can_grow
    tests = 2 * (2 if two_sided else 1)
    alpha = settings.alpha / (max(1, looks) * tests)
    served = _served_minutes(grid, comparison.traffic_since)
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
        candidate, baseline = int(candidate_requests[mask].sum()), int(baseline_requests[mask].sum())
        total = candidate + baseline
        # P(at most this few candidate requests | share at the band's low edge), and the same for the baseline.
        p_few = binomial_cdf(candidate, total, low) if total else 1.0
        p_many = binomial_sf(candidate, total, high) if total and two_sided else 1.0
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
            what = "no requests" if baseline == 0 else f"{baseline} of {total} requests"
            return SampleRatio(
                f"baseline fleet received {what} {span} while the candidate served {candidate}; planned candidate "
                f"share {_percent(planned)} (sample-ratio mismatch, p = {p_many:.2g} < {alpha:.2g})",
                details,
            )
    return SampleRatio(None, details)
