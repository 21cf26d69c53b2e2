"""`safedeploy report`: one deployment's canary decisions as a picture (PNG) and a page (HTML).

Built from the decision records (`decisions/<endpoint>/<deployment>/<time>-<DECISION>.json`, one per minute of
analysis) and the operators' rollback records (`rollbacks/<endpoint>/*.json`), so it shows what the analysis saw and
decided, not a re-computation. Per guarded metric, in its own units: the difference candidate minus baseline each
minute with its interval, against the difference at which the harm boundary is reached; the page adds each metric's
estimates at the deciding minute, how long an SPRT that knew that difference would have needed (the information
limit), the harm z against its boundary, and the power that remains at the traffic and latency spread measured;
below: the requests each fleet served per minute; markers for every change of
verdict, the first minute the CanaryVerdict metric signalled a rollback (the auto-rollback alarm's input) and recorded
rollbacks. The title gives the outcome: a blue/green candidate is promoted by SageMaker when its bake ends without a
rollback, so its last verdict is CONTINUE; it counts as promoted once it serves the endpoint (a later deployment's
baseline, or the endpoint's configuration now).
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from safedeploy import clock
from safedeploy.decision import Decision
from safedeploy.errors import InputError
from safedeploy.s3_layout import decisions_prefix, rollbacks_prefix
from safedeploy.stats.oracle import oracle_minutes

# A rollback recorded this long after the last analysis still belongs to the deployment.
ROLLBACK_GRACE = timedelta(hours=1)
COLOURS = {Decision.PROMOTE: "#2e7d32", Decision.CONTINUE: "#757575", Decision.ROLLBACK: "#c62828"}


@dataclass(frozen=True)
class Minute:
    at: datetime
    decision: str
    metrics: Mapping[str, Mapping[str, Any]]
    reasons: tuple[str, ...]
    measured_plan: Mapping[str, Any] | None = None


def in_units(details: Mapping[str, Any], value: Any, difference: bool = False) -> float | None:
    """A verdict value in the unit an operator reads: rates in percent (points, for a difference), a median's log
    ratio as a percent change, means as they are (milliseconds for latency)."""
    if not isinstance(value, int | float) or not math.isfinite(value):
        return None
    kind = details.get("kind")
    if kind == "proportion":
        return 100.0 * value
    if kind == "median" and difference:
        return 100.0 * math.expm1(value)
    return float(value)


def unit_label(details: Mapping[str, Any], difference: bool = False) -> str:
    kind = details.get("kind")
    if kind == "proportion":
        return "percentage points" if difference else "%"
    if kind == "median" and difference:
        return "% change of the median"
    return "ms"


@dataclass
class Timeline:
    endpoint_name: str
    deployment_id: str
    kind: str
    fleets: Mapping[str, str]
    minutes: list[Minute]
    rollbacks: list[Mapping[str, Any]] = field(default_factory=list)
    # Whether the candidate went on to serve the endpoint; None while that is not known (the newest deployment).
    promoted: bool | None = None

    @classmethod
    def from_records(
        cls, records: Sequence[Mapping[str, Any]], rollbacks: Sequence[Mapping[str, Any]] = ()
    ) -> Timeline:
        if not records:
            raise InputError("no decision records: the canary analysis has not judged this deployment")
        ordered = sorted(records, key=lambda record: record["at"])
        first = ordered[0]
        minutes = [
            Minute(
                datetime.fromisoformat(record["at"]),
                record["decision"],
                record.get("verdict", {}).get("metrics") or {},
                tuple(record.get("reasons", ())),
                record.get("measured_plan"),
            )
            for record in ordered
        ]
        start, end = minutes[0].at, minutes[-1].at + ROLLBACK_GRACE
        relevant = [item for item in rollbacks if start <= datetime.fromisoformat(item["at"]) <= end]
        return cls(
            first["endpoint_name"], first["deployment_id"], first.get("kind", ""), first["fleets"], minutes, relevant
        )

    @property
    def metric_names(self) -> list[str]:
        return sorted({name for minute in self.minutes for name in minute.metrics})

    def offset(self, at: datetime) -> float:
        return (at - self.minutes[0].at).total_seconds() / 60

    @property
    def final_decision(self) -> str:
        return self.minutes[-1].decision

    @property
    def outcome(self) -> str:
        if self.rollbacks:
            return f"rolled back to {self.rollbacks[-1].get('to_config', '?')} by an operator"
        if self.alarm_minute() is not None:  # the verdict alarm fired: SageMaker rolls back (later records are after)
            return "rolled back on the canary verdict"
        if self.final_decision == Decision.PROMOTE or self.promoted:
            return "promoted"
        if self.promoted is False:
            return f"not promoted (last verdict {self.final_decision})"
        return f"in progress or unknown (last verdict {self.final_decision})"

    def changes(self) -> list[tuple[float, str]]:
        """(minute, decision) whenever the verdict changes, starting with the first one."""
        found: list[tuple[float, str]] = []
        for minute in self.minutes:
            if not found or found[-1][1] != minute.decision:
                found.append((self.offset(minute.at), minute.decision))
        return found

    def deciding_minute(self) -> Minute:
        """The first ROLLBACK (or PROMOTE) record, else the last one: what the report summarises."""
        decided = [minute for minute in self.minutes if minute.decision != Decision.CONTINUE]
        return decided[0] if decided else self.minutes[-1]

    def summary(self, name: str) -> str:
        """One metric at the deciding minute, in its own units, with the time an oracle would have needed."""
        minute = self.deciding_minute()
        details = minute.metrics.get(name) or {}
        at = self.offset(minute.at) + 1
        baseline, candidate = in_units(details, details.get("baseline")), in_units(details, details.get("candidate"))
        if baseline is None or candidate is None:
            return f"{name}: no estimate at minute {at:g} ({minute.decision})"
        unit, change_unit = unit_label(details), unit_label(details, difference=True)
        effect = in_units(details, details.get("effect"), difference=True)
        interval = [in_units(details, bound, difference=True) for bound in details.get("ci") or ()]
        shown = f"; interval {interval[0]:.3g} to {interval[1]:.3g}" if None not in interval and interval else ""
        line = (
            f"{name} at minute {at:g} ({minute.decision}): candidate {candidate:.4g} {unit} vs baseline "
            f"{baseline:.4g} {unit}, {effect:+.3g} {change_unit}{shown}"
        )
        harm = details.get("effect")
        sign = -1.0 if details.get("harm_direction") == "decrease" else 1.0
        needed = oracle_minutes(
            sign * harm if isinstance(harm, int | float) else math.nan, details.get("standard_error") or 0.0, at
        )
        if needed is not None:
            minutes = math.ceil(needed)
            line += f"; an SPRT that knew this difference would have needed about {minutes} minute"
            line += "" if minutes == 1 else "s"
        return line

    def measured_power(self) -> str | None:
        """What the newest record says the bake's power is at the traffic and latency spread it measured."""
        plan = self.minutes[-1].measured_plan
        if not plan:
            return None
        powers = []
        for metric in plan.get("metrics", ()):
            late = metric.get("late_power_at_bake")
            mid_bake = "" if late is None else f", {late:.2f} if it turns bad mid-bake"
            powers.append(f"{metric['name']} power {metric['power_at_bake']:.2f}{mid_bake}")
        return (
            f"measured {plan.get('requests_per_minute', 0):.0f} requests/minute and latency log sigma "
            f"{plan.get('latency_log_sigma', 0):.2f}: {'; '.join(powers)} (declared {plan.get('power', 0):g})"
        )

    def alarm_minute(self) -> float | None:
        """The first minute the analysis published CanaryVerdict = 1, which the auto-rollback alarm reads."""
        return next((self.offset(m.at) for m in self.minutes if m.decision == Decision.ROLLBACK), None)

    def traffic(self) -> tuple[list[float], list[float], list[float]]:
        """(minute, baseline requests, candidate requests) per minute, from the cumulative counts of the records."""
        minutes, baseline, candidate = [], [], []
        previous = (0.0, 0.0)
        for minute in self.minutes:
            counts = [
                (details.get("n_baseline"), details.get("n_candidate"))
                for details in minute.metrics.values()
                if isinstance(details.get("n_baseline"), int | float)
            ]
            if not counts:
                continue
            total = max(counts, key=lambda pair: (pair[0] or 0) + (pair[1] or 0))
            current = (float(total[0] or 0), float(total[1] or 0))
            minutes.append(self.offset(minute.at))
            baseline.append(max(current[0] - previous[0], 0.0))
            candidate.append(max(current[1] - previous[1], 0.0))
            previous = current
        return minutes, baseline, candidate


def load_timeline(
    s3: Any, bucket: str, endpoint_name: str, deployment_id: str | None = None, serving_config: str | None = None
) -> Timeline:
    """The records of one deployment (default: the latest one analysed) and the endpoint's rollback records.
    `serving_config`: the endpoint configuration in service now, if known (it tells whether the newest candidate
    was promoted)."""
    prefix = decisions_prefix(endpoint_name)
    now = clock.utc_now()
    by_deployment: dict[str, list[str]] = {}
    for key in _keys(s3, bucket, prefix):
        if clock.time_refusal(clock.key_time(key), None, now) is None:  # a decision dated ahead is not shown
            by_deployment.setdefault(key[len(prefix) :].split("/", 1)[0], []).append(key)
    if not by_deployment:
        raise InputError(f"no decision records under s3://{bucket}/{prefix}: no canary analysis has run")

    def newest(name: str) -> str:
        return max(key.rsplit("/", 1)[-1] for key in by_deployment[name])

    if deployment_id is None:
        deployment_id = max(by_deployment, key=newest)
    if deployment_id not in by_deployment:
        raise InputError(f"no records of deployment {deployment_id!r}; recorded: {', '.join(sorted(by_deployment))}")

    def read(key: str) -> dict[str, Any]:
        return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())

    rollbacks = [read(key) for key in _keys(s3, bucket, rollbacks_prefix(endpoint_name))]
    timeline = Timeline.from_records([read(key) for key in by_deployment[deployment_id]], rollbacks)
    later = [name for name in by_deployment if newest(name) > newest(deployment_id)]
    served = {read(min(by_deployment[name]))["fleets"].get("baseline") for name in later} | {serving_config}
    candidate = timeline.fleets.get("candidate")
    timeline.promoted = True if candidate in served else (False if later or serving_config else None)
    return timeline


def _keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def render_png(timeline: Timeline) -> bytes:
    import matplotlib.pyplot as plt

    figure = draw(timeline)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return buffer.getvalue()


def draw(timeline: Timeline) -> Any:
    """The report's matplotlib figure (closed by the caller)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    names = timeline.metric_names
    figure, axes = plt.subplots(
        len(names) + 1,
        1,
        figsize=(12, 2.4 * len(names) + 2.4),
        sharex=True,
        gridspec_kw={"height_ratios": [3] * len(names) + [2]},
        squeeze=False,
    )
    axes = axes[:, 0]
    for axis, name in zip(axes, names, strict=False):
        if _plot_metric(axis, timeline, name):
            axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
    _plot_traffic(axes[-1], timeline)
    events = _mark_events(axes, timeline)
    if events or timeline.traffic()[0]:
        axes[-1].legend(
            handles=[*axes[-1].get_legend_handles_labels()[0], *events],
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            fontsize="small",
            frameon=False,
        )
    last = max(
        [_x(timeline, m.at) for m in timeline.minutes]
        + [_x(timeline, datetime.fromisoformat(r["at"])) for r in timeline.rollbacks]
    )
    for axis in axes:
        axis.set_xlim(0.4, last + 0.6)
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(axis="x", color="#eeeeee")
    axes[-1].set_xlabel(f"minute of the analysis (minute 1 = {timeline.minutes[0].at:%Y-%m-%d %H:%M} UTC)")
    figure.suptitle(
        f"{timeline.endpoint_name} / {timeline.deployment_id} ({timeline.kind}): {len(timeline.minutes)} analyses, "
        f"{timeline.outcome}",
        fontsize="large",
        color=COLOURS[Decision.PROMOTE] if timeline.promoted else COLOURS.get(timeline.final_decision, "black"),
    )
    figure.tight_layout()
    return figure


def _x(timeline: Timeline, at: datetime) -> float:
    """Minutes numbered from 1, as an operator counts the bake."""
    return timeline.offset(at) + 1


def _plot_metric(axis: Any, timeline: Timeline, name: str) -> bool:
    """The difference candidate minus baseline in the metric's units, its interval, and the difference at which the
    harm boundary is reached, minute by minute. False when the metric had no data to draw."""
    rows = []
    for minute in timeline.minutes:
        details = minute.metrics.get(name)
        if details is None:
            continue
        ci = details.get("ci") or (None, None)
        values = [in_units(details, details.get(key), difference=True) for key in ("effect", "harm_threshold")]
        rows.append((_x(timeline, minute.at), *values, *(in_units(details, bound, difference=True) for bound in ci)))
    effects = [(x, e, low, high) for x, e, _, low, high in rows if e is not None]
    thresholds = [(x, t) for x, _, t, _, _ in rows if t is not None]
    if thresholds:
        xs, ys = zip(*thresholds, strict=True)
        edges, levels = [*xs, xs[-1] + 1], [*ys, ys[-1]]
        axis.step(edges, levels, where="post", color="#c62828", linestyle="--", linewidth=1.5, label="harm boundary")
    if effects:
        xs, ys, lows, highs = zip(*effects, strict=True)
        if None not in lows and None not in highs:
            axis.fill_between(xs, lows, highs, color="#1565c0", alpha=0.12, label="interval")
        axis.plot(xs, ys, color="#1565c0", marker="o", markersize=4, linewidth=1.8, label="candidate - baseline")
    else:
        axis.text(0.5, 0.5, "no data in this deployment", transform=axis.transAxes, ha="center", color="#757575")
    axis.axhline(0, color="#9e9e9e", linewidth=0.6)
    sample = next((minute.metrics[name] for minute in timeline.minutes if name in minute.metrics), {})
    axis.set_ylabel(f"{name}:\n{unit_label(sample, difference=True)}", fontsize="small")
    return bool(effects or thresholds)


def _plot_traffic(axis: Any, timeline: Timeline) -> None:
    minutes, baseline, candidate = timeline.traffic()
    if minutes:
        xs = [minute + 1 for minute in minutes]
        axis.bar(xs, baseline, width=0.7, color="#90a4ae", label=f"baseline {timeline.fleets.get('baseline', '')}")
        axis.bar(
            xs,
            candidate,
            width=0.7,
            bottom=baseline,
            color="#ffb74d",
            label=f"candidate {timeline.fleets.get('candidate', '')}",
        )
    axis.set_ylabel("requests per minute", fontsize="small")


def _mark_events(axes: Any, timeline: Timeline) -> list[Any]:
    """Vertical markers on every panel; returns the legend handles that name them."""
    from matplotlib.lines import Line2D

    handles = []
    decided = [(minute + 1, decision) for minute, decision in timeline.changes()[1:] or []]
    decided += [(minute + 1, decision) for minute, decision in timeline.changes()[:1] if decision != Decision.CONTINUE]
    for minute, decision in decided:
        for axis in axes:
            axis.axvline(minute, color=COLOURS.get(decision, "black"), linewidth=1.2, alpha=0.8)
        handles.append(
            Line2D([], [], color=COLOURS.get(decision, "black"), label=f"verdict {decision}, minute {minute:g}")
        )
    alarm = timeline.alarm_minute()
    if alarm is not None:
        for axis in axes:
            axis.axvspan(alarm + 0.9, alarm + 1.1, color="#c62828", alpha=0.25)
        handles.append(Line2D([], [], color="#c62828", alpha=0.4, linewidth=6, label="CanaryVerdict = 1: alarm fires"))
    for item in timeline.rollbacks:
        at = _x(timeline, datetime.fromisoformat(item["at"]))
        for axis in axes:
            axis.axvline(at, color="black", linewidth=1.5, linestyle=":")
        handles.append(
            Line2D([], [], color="black", linestyle=":", label=f"rolled back to {item.get('to_config', '?')}")
        )
    return handles


def render_html(timeline: Timeline, png: bytes) -> str:
    names = timeline.metric_names
    header = "".join(f"<th>{html.escape(n)} harm z / boundary</th>" for n in names)
    rows = []
    for minute in timeline.minutes:
        cells = "".join(
            f"<td>{_number(minute.metrics.get(n, {}).get('statistic'))} / "
            f"{_number(minute.metrics.get(n, {}).get('boundary'))}</td>"
            for n in names
        )
        colour = COLOURS.get(minute.decision, "black")
        rows.append(
            f"<tr><td>{minute.at:%H:%M}</td><td style='color:{colour}'><b>{minute.decision}</b></td>{cells}"
            f"<td>{html.escape('; '.join(minute.reasons))}</td></tr>"
        )
    image = base64.b64encode(png).decode()
    lines = [timeline.summary(name) for name in names]
    measured = timeline.measured_power()
    items = "".join(f"<li>{html.escape(line)}</li>" for line in [*lines, *([measured] if measured else [])])
    title = f"{timeline.endpoint_name} / {timeline.deployment_id}"
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;font-size:small}"
        "td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<p>{html.escape(timeline.kind)} deployment, fleets: baseline "
        f"{html.escape(timeline.fleets.get('baseline', ''))}, "
        f"candidate {html.escape(timeline.fleets.get('candidate', ''))}; <b>{html.escape(timeline.outcome)}</b> "
        f"after {len(timeline.minutes)} analyses (last verdict {timeline.final_decision}).</p>"
        f"<ul>{items}</ul>"
        f"<img alt='canary decision timeline' src='data:image/png;base64,{image}' style='max-width:100%'>"
        f"<table><tr><th>time (UTC)</th><th>verdict</th>{header}<th>reasons</th></tr>{''.join(rows)}</table>"
        "</body></html>\n"
    )


def _number(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, int | float) else "-"


def write_report(timeline: Timeline, out_dir: Path, stem: str | None = None) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = stem or f"{timeline.endpoint_name}-{timeline.deployment_id}"
    png = render_png(timeline)
    png_path, html_path = out_dir / f"{stem}.png", out_dir / f"{stem}.html"
    png_path.write_bytes(png)
    html_path.write_text(render_html(timeline, png))
    return png_path, html_path
