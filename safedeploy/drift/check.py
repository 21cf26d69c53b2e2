"""One scheduled drift check: this hour's bin counts of every column against the live model's baseline.

The state between checks is a Shiryaev-Roberts statistic per column (see `statistics`), tied to one baseline
digest and one period of `period_looks` checks: a new model, or the end of a period, starts afresh, so each period's
chance of any false drift alarm, across all columns and all its hourly looks, stays at most alpha.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from safedeploy.drift.baseline import Baseline
from safedeploy.drift.statistics import (
    PSI_MAJOR,
    PSI_MODERATE,
    concentration,
    holm,
    log_e_value,
    period_p_value,
    psi,
    shiryaev_roberts,
)

DRIFT, STABLE, NO_DATA = "drift", "stable", "no data"


@dataclass(frozen=True)
class DriftPolicy:
    """`alpha`: chance of any false drift alarm per period; `period_looks`: checks per period (720 hourly checks
    = 30 days); `sensitivity`: the chi-square/PSI distance the mixture is aimed at."""

    alpha: float = 0.05
    period_looks: int = 720
    sensitivity: float = 0.1
    reference_weight: float = 0.25  # training rows count this much each: the reference's uncertainty, widened

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 0.5:
            raise ValueError(f"drift alpha must be in (0, 0.5), got {self.alpha!r}")
        if self.period_looks < 1:
            raise ValueError(f"drift period_looks must be at least 1, got {self.period_looks!r}")
        concentration(2, self.sensitivity)
        if not 0.0 < self.reference_weight <= 1.0:
            raise ValueError(f"drift reference_weight must be in (0, 1], got {self.reference_weight!r}")


@dataclass
class ColumnState:
    log_r: float = -math.inf
    max_log_r: float = -math.inf


@dataclass
class DriftState:
    baseline_digest: str
    looks: int = 0
    columns: dict[str, ColumnState] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        columns = {
            name: {key: _finite_or_none(value) for key, value in asdict(s).items()} for name, s in self.columns.items()
        }
        return {"baseline_digest": self.baseline_digest, "looks": self.looks, "columns": columns}

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> DriftState:
        columns = {
            name: ColumnState(
                *(-math.inf if entry.get(key) is None else float(entry[key]) for key in ("log_r", "max_log_r"))
            )
            for name, entry in document.get("columns", {}).items()
        }
        return cls(str(document["baseline_digest"]), int(document.get("looks", 0)), columns)


@dataclass(frozen=True)
class ColumnResult:
    name: str
    rows: int
    psi: float
    psi_band: str
    log_e_value: float
    p_value: float
    verdict: str


@dataclass(frozen=True)
class DriftCheck:
    checked_at: str
    package_arn: str
    baseline_digest: str
    look: int
    period_looks: int
    alpha: float
    columns: tuple[ColumnResult, ...]

    @property
    def drifted(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns if column.verdict == DRIFT)

    def to_record(self) -> dict[str, Any]:
        record = asdict(self)
        record["drifted"] = list(self.drifted)
        record["method"] = "Dirichlet-multinomial e-values, Shiryaev-Roberts over the period, Holm across columns"
        return record


def run_check(
    baseline: Baseline,
    baseline_digest: str,
    counts: Mapping[str, np.ndarray],
    state: DriftState | None,
    policy: DriftPolicy,
    *,
    package_arn: str,
    checked_at: str,
) -> tuple[DriftCheck, DriftState]:
    """Fold this hour's counts (column name -> counts per bin; a missing column saw no rows) into the state."""
    if state is None or state.baseline_digest != baseline_digest or state.looks >= policy.period_looks:
        state = DriftState(baseline_digest)
    look = state.looks + 1
    partial: list[tuple[str, int, float, float]] = []
    p_values: dict[str, float] = {}
    for reference in baseline.references():
        observed = np.asarray(counts.get(reference.name, np.zeros(reference.bins)), dtype=np.int64)
        if observed.shape != (reference.bins,):
            raise ValueError(f"{reference.name}: {observed.size} counts for the baseline's {reference.bins} bins")
        column = state.columns.setdefault(reference.name, ColumnState())
        rows = int(observed.sum())
        alternative = concentration(reference.bins, policy.sensitivity)
        rows_weight = max(1, round(reference.rows * policy.reference_weight))
        log_e = log_e_value(reference.proportions, observed, alternative, rows_weight)
        if rows:
            column.log_r = shiryaev_roberts(column.log_r, log_e)
            column.max_log_r = max(column.max_log_r, column.log_r)
        p_values[reference.name] = period_p_value(column.max_log_r, policy.period_looks)
        partial.append((reference.name, rows, psi(reference.proportions, observed), log_e))
    rejected = holm(p_values, policy.alpha)
    results = tuple(
        ColumnResult(
            name=name,
            rows=rows,
            psi=distance,
            psi_band=_band(distance),
            log_e_value=log_e,
            p_value=p_values[name],
            verdict=DRIFT if name in rejected else (STABLE if rows else NO_DATA),
        )
        for name, rows, distance, log_e in partial
    )
    state.looks = look
    check = DriftCheck(checked_at, package_arn, baseline_digest, look, policy.period_looks, policy.alpha, results)
    return check, state


def _band(distance: float) -> str:
    return "major" if distance >= PSI_MAJOR else "moderate" if distance >= PSI_MODERATE else "small"


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None
