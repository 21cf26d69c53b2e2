"""Training-serving skew at the quality gate: the candidate's training distribution against recent live traffic.

Live traffic exists only as the gateway's histograms, binned against the *live* model's baseline edges, which are
not the candidate's. Re-binning the traffic is impossible (the rows are gone), so the comparison is made on the
live model's bins: the candidate's training distribution is re-expressed there from its baseline (categories by
name, numbers through the baseline's quantile sketch, within 1/SKETCH_STEPS of mass per edge), and the traffic
counts are used exactly as written. Per feature: PSI, and the drift check's Dirichlet-multinomial e-value with
the candidate's training rows as the reference's weight, as a one-shot p = min(1, 1/E) (Markov's inequality), Holm
across features. The prediction score is not compared: a new model's scores are meant to differ.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from safedeploy.drift import store
from safedeploy.drift.baseline import Baseline
from safedeploy.drift.check import DriftPolicy
from safedeploy.drift.statistics import concentration, holm, log_e_value, psi

SKEW_DAYS = store.HISTORY_DAYS
# The summary goes into the approval's CustomData (500 characters in all).
SUMMARY_LIMIT = 120


@dataclass(frozen=True)
class SkewColumn:
    name: str
    rows: int
    psi: float | None
    p_value: float | None
    skewed: bool = False


@dataclass(frozen=True)
class SkewReport:
    live_package_arn: str
    days: int
    columns: tuple[SkewColumn, ...]

    @property
    def rows(self) -> int:
        return max((column.rows for column in self.columns), default=0)

    @property
    def skewed(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns if column.skewed)

    def lines(self) -> list[str]:
        """The table in the gate's report."""
        head = f"training-serving skew vs the last {self.days} days of live traffic ({self.rows} rows):"
        rows = [
            f"  {c.name}: PSI {_number(c.psi, '.3f')}, p {_number(c.p_value, '.2g')}" + (" SKEWED" if c.skewed else "")
            for c in self.columns
        ]
        return [head, *rows]

    def summary(self) -> str:
        """One short line for the approval message."""
        if not self.rows:
            return f"no live traffic in {self.days} d to compare"
        worst = max(self.columns, key=lambda c: c.psi or 0.0)
        facts = f"({self.rows} rows, {self.days} d; max PSI {worst.name[:40]} {_number(worst.psi, '.2f')})"
        verdict = f"SKEWED {','.join(self.skewed)}" if self.skewed else "none significant"
        if len(verdict) + len(facts) >= SUMMARY_LIMIT:
            verdict = f"SKEWED {len(self.skewed)} features"
        return f"{verdict} {facts}"


def _number(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def compare(
    candidate: Baseline, live: Baseline, traffic: dict[str, np.ndarray], policy: DriftPolicy
) -> list[SkewColumn]:
    """Per feature of the live baseline: the candidate's shares on its bins against the traffic's counts."""
    columns: list[SkewColumn] = []
    p_values: dict[str, float] = {}
    for reference in live.features:
        counts = traffic.get(reference.name, np.zeros(reference.bins, dtype=np.int64))
        try:
            mine = candidate.feature(reference.name)
        except KeyError:
            mine = None
        shares = mine.shares_on(reference) if mine is not None else None
        if shares is None or not counts.sum():
            columns.append(SkewColumn(reference.name, int(counts.sum()), None, None))
            continue
        c = concentration(reference.bins, policy.sensitivity)
        log_e = log_e_value(shares, counts, c, max(1, int(mine.rows * policy.reference_weight)))
        p_values[reference.name] = float(min(1.0, math.exp(-log_e)))
        columns.append(SkewColumn(reference.name, int(counts.sum()), psi(shares, counts), p_values[reference.name]))
    rejected = holm(p_values, policy.alpha)
    return [SkewColumn(c.name, c.rows, c.psi, c.p_value, c.name in rejected) for c in columns]


def skew_against_live_traffic(
    sm: Any,
    s3: Any,
    *,
    bucket: str,
    histograms_bucket: str,
    endpoint_name: str,
    candidate_arn: str,
    live_arn: str,
    now: datetime,
    policy: DriftPolicy,
    days: int = SKEW_DAYS,
) -> SkewReport | None:
    """None when either package has no drift baseline; traffic binned against another baseline is not used.
    `bucket` holds the baselines (the artifacts bucket), `histograms_bucket` the live traffic (the drift bucket)."""
    candidate = store.package_baseline(sm, s3, candidate_arn, bucket)
    live = store.package_baseline(sm, s3, live_arn, bucket)
    if candidate is None or live is None:
        return None
    end = now.replace(minute=0, second=0, microsecond=0)
    totals = {reference.name: np.zeros(reference.bins, dtype=np.int64) for reference in live.baseline.features}
    for back in range(1, days * 24 + 1):
        counts, _ = store.hour_counts(s3, histograms_bucket, endpoint_name, end - timedelta(hours=back), live)
        for name in totals:
            totals[name] += counts[name]
    return SkewReport(live_arn, days, tuple(compare(candidate.baseline, live.baseline, totals, policy)))
