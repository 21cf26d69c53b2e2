"""`canary_verdict`: PROMOTE, CONTINUE or ROLLBACK from per-period fleet aggregates and a policy.

Replaying every look in time order, the first decision reached wins:
- ROLLBACK when any metric's one-sided harm test crosses its boundary, at level alpha / m (the first step of
  Holm and Bonferroni alike, so the chance of any false rollback across m metrics stays at most alpha); the
  metrics reported as harmful then follow the policy's step-down;
- PROMOTE when every metric has shown non-inferiority within its margin and both fleets hold its minimum sample.
  Promotion is an intersection-union test: each metric at its own alpha already bounds the chance of promoting a
  candidate that is inferior on any one of them (Berger 1982), so splitting alpha there would only slow it down;
- ROLLBACK (or CONTINUE, by policy) when a metric reaches its horizon without showing non-inferiority;
- CONTINUE otherwise. No data or too little data never promotes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from safedeploy.decision import Decision
from safedeploy.errors import InputError
from safedeploy.stats.comparison_series import cumulative_comparison
from safedeploy.stats.json_fields import json_safe
from safedeploy.stats.monitors import AlwaysValidMonitor, GroupSequentialMonitor, MetricMonitor, late_window_start
from safedeploy.stats.observations import CanaryObservations
from safedeploy.stats.policy import CanaryPolicy, MetricPolicy


@dataclass(frozen=True)
class Verdict:
    """`period` is the index of the period at which the decision was reached (the latest one for CONTINUE)."""

    decision: Decision
    reasons: list[str]
    metrics: dict[str, dict[str, Any]]
    period: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Strict JSON: numpy numbers become plain ones, undefined values (NaN, infinite boundaries) null."""
        return json_safe(
            {"decision": self.decision, "reasons": self.reasons, "metrics": self.metrics, "period": self.period}
        )


@dataclass(frozen=True)
class _Event:
    decision: Decision
    period: int
    priority: int  # at equal periods a ROLLBACK wins
    cause: Literal["harm", "inconclusive", "non-inferior"]


def canary_verdict(
    observations: CanaryObservations | Mapping[str, Any], policy: CanaryPolicy | Mapping[str, Any]
) -> Verdict:
    """Plain dicts (the JSON form) are accepted for either argument."""
    data = observations if isinstance(observations, CanaryObservations) else CanaryObservations.from_dict(observations)
    rules = policy if isinstance(policy, CanaryPolicy) else CanaryPolicy.from_dict(policy)
    unguarded = sorted(set(data.metrics) - set(rules.metrics))
    if unguarded:
        raise InputError(f"observations for {', '.join(unguarded)} have no policy; add them or drop them")
    monitors = {name: _monitor(name, data, rules) for name in rules.metrics}
    present = {name: monitor for name, monitor in monitors.items() if monitor is not None}
    absent = {name: _no_data_details(rules.metrics[name]) for name in rules.metrics if monitors[name] is None}
    if not present:
        reasons = [f"{name}: no data yet" for name in rules.metrics]
        return Verdict(
            Decision.CONTINUE, ["no data: nothing can be promoted or rolled back yet", *reasons], absent, None
        )
    family_size = len(rules.metrics)
    first_levels = {name: rules.metrics[name].alpha / family_size for name in present}
    event = _first_event(monitors, first_levels, rules)
    period = data.periods - 1 if event is None else event.period
    harmful = _harmful_metrics(present, period, rules) if event and event.cause == "harm" else {}
    metrics = {
        name: monitor.details(period, harmful.get(name, first_levels[name])) for name, monitor in present.items()
    }
    for name, details in metrics.items():
        details["status"] = _status(name, present[name], period, harmful, details["look"])
    metrics = {name: metrics.get(name) or absent[name] for name in rules.metrics}
    reasons = _reasons(event, rules, monitors, metrics, harmful)
    return Verdict(Decision.CONTINUE if event is None else event.decision, reasons, metrics, period)


def _no_data_details(metric_policy: MetricPolicy) -> dict[str, Any]:
    return {"kind": metric_policy.kind, "harm_direction": metric_policy.harm, "status": "no data"}


def _monitor(name: str, data: CanaryObservations, rules: CanaryPolicy) -> MetricMonitor | None:
    observed = data.metrics.get(name)
    if observed is None or observed.periods == 0:
        return None
    metric_policy = rules.metrics[name]
    if observed.kind != metric_policy.kind:
        raise InputError(f"metric {name}: the policy says {metric_policy.kind}, the observations {observed.kind}")
    comparison = cumulative_comparison(observed, metric_policy.min_periods, harm_sign=metric_policy.harm_sign)
    if rules.sequential != "group":
        return AlwaysValidMonitor(comparison, metric_policy)
    start = late_window_start(comparison, metric_policy) if metric_policy.late_alpha_share > 0.0 else None
    late = None
    if start is not None:
        late = cumulative_comparison(
            observed, metric_policy.min_periods, start, metric_policy.harm_sign, pool_scale=True
        )
    return GroupSequentialMonitor(comparison, metric_policy, late)


def _first_event(
    monitors: Mapping[str, MetricMonitor | None], levels: Mapping[str, float], rules: CanaryPolicy
) -> _Event | None:
    events: list[_Event] = []
    present = {name: monitor for name, monitor in monitors.items() if monitor is not None}
    for name, monitor in present.items():
        harm = monitor.harm_period(levels[name])
        if harm is not None:
            events.append(_Event(Decision.ROLLBACK, harm, 0, "harm"))
        inconclusive = monitor.inconclusive_period()
        if inconclusive is not None and rules.when_inconclusive == Decision.ROLLBACK:
            events.append(_Event(Decision.ROLLBACK, inconclusive, 1, "inconclusive"))
    promotion = _promotion_period(monitors) if rules.promote else None
    if promotion is not None:
        events.append(_Event(Decision.PROMOTE, promotion, 2, "non-inferior"))
    return min(events, key=lambda event: (event.period, event.priority)) if events else None


def _promotion_period(monitors: Mapping[str, MetricMonitor | None]) -> int | None:
    """The period by which every metric has shown non-inferiority and holds its minimum sample, if any."""
    ready: list[int] = []
    for monitor in monitors.values():
        if monitor is None:
            return None
        shown, enough = monitor.non_inferiority_period(), monitor.samples_period
        if shown is None or enough is None:
            return None
        ready.append(max(shown, enough))
    return max(ready)


def _harmful_metrics(monitors: Mapping[str, MetricMonitor], period: int, rules: CanaryPolicy) -> dict[str, float]:
    """Metrics whose harm is shown at `period`, with the level that showed it: Bonferroni tests each at alpha / m;
    Holm steps down, testing what is left at alpha / (m - r) once r metrics are rejected."""
    family_size = len(rules.metrics)
    rejected: dict[str, float] = {}
    while True:
        divisor = family_size - len(rejected) if rules.family == "holm" else family_size
        levels = {name: rules.metrics[name].alpha / divisor for name in monitors if name not in rejected}
        newly = {name: level for name, level in levels.items() if monitors[name].harm_shown_at(period, level)}
        rejected |= newly
        if not newly or rules.family != "holm":
            return rejected


def _status(name: str, monitor: MetricMonitor, period: int, harmful: Mapping[str, float], looks_done: int) -> str:
    if name in harmful:
        return "harmful"
    shown = monitor.non_inferiority_period()
    if shown is not None and shown <= period:
        return "non-inferior"
    inconclusive = monitor.inconclusive_period()
    if inconclusive is not None and inconclusive <= period:
        return "inconclusive"
    if looks_done == 0:
        return "insufficient data"
    return "undecided"


def _reasons(
    event: _Event | None,
    rules: CanaryPolicy,
    monitors: Mapping[str, MetricMonitor | None],
    metrics: Mapping[str, Mapping[str, Any]],
    harmful: Mapping[str, float],
) -> list[str]:
    if event is None:
        headline = "no decision yet: keep baking"
    elif event.cause == "harm":
        headline = f"harm shown on {', '.join(sorted(harmful))}: roll back"
    elif event.cause == "inconclusive":
        headline = "a metric reached its planned sample without showing non-inferiority: roll back"
    else:
        headline = "every guarded metric is non-inferior with its minimum sample: promote"
    lines = [headline]
    for name, metric_policy in rules.metrics.items():
        if monitors.get(name) is None:
            lines.append(f"{name}: no data yet")
            continue
        lines.append(_metric_reason(name, metrics[name], metric_policy.min_samples))
    return lines


def _number(value: Any) -> str:
    return "n/a" if value is None or value != value else f"{value:.4g}"


def _metric_reason(name: str, details: Mapping[str, Any], min_samples: int) -> str:
    status = details["status"]
    counts = f"n = {details['n_candidate']:.0f} candidate / {details['n_baseline']:.0f} baseline"
    estimates = f"candidate {_number(details['candidate'])} vs baseline {_number(details['baseline'])}"
    if status == "harmful":
        if details["boundary"] is None:
            evidence = f"always-valid p = {_number(details['p_value'])} <= {_number(details['alpha'])}"
        else:
            evidence = f"harm z = {_number(details['statistic'])} >= boundary {_number(details['boundary'])}"
        return f"{name}: the {details['harm_direction']} is harmful ({estimates}; {evidence}); {counts}"
    if status == "non-inferior":
        short = min(details["n_candidate"], details["n_baseline"]) < min_samples
        sample_note = f"; waiting for {min_samples} samples per fleet" if short else ""
        return f"{name}: non-inferior within margin {_number(details['margin'])} ({estimates}); {counts}{sample_note}"
    if status == "inconclusive":
        return f"{name}: reached its horizon without showing non-inferiority within {_number(details['margin'])}"
    if status == "insufficient data":
        return f"{name}: too little data for a first look yet ({counts})"
    return (
        f"{name}: undecided at look {details['look']} ({estimates}; harm z = {_number(details['statistic'])},"
        f" non-inferiority z = {_number(details['ni_statistic'])}); {counts}"
    )
