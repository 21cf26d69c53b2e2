"""Per-minute fleet aggregates from one batched GetMetricData request, aligned on one grid of complete minutes.

The statistics engine needs every metric of both fleets over the same periods. A minute for which CloudWatch returned a
datapoint for one fleet only (the other's is late or lost) is blank for both: a missing datapoint is not zero
requests. The current minute is left out until it is complete: CloudWatch is still aggregating it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from safedeploy.canary.fleets import Comparison, Fleet
from safedeploy.canary.metrics import CANARY_METRICS, LATENCY_MEAN, LATENCY_MEDIAN, REQUESTS, CanaryMetric, Reading
from safedeploy.stats import CanaryObservations, CountSeries, MeanSeries, MedianSeries, MetricObservations

PERIOD = timedelta(minutes=1)
MEDIAN_COVERAGE = 0.9  # share of the first minutes with requests that must carry a p50 for the median to be used
LATENCY_CHOICE_MINUTES = 10  # the minutes that choose median or mean, once per deployment
ROLES = ("baseline", "candidate")


@dataclass(frozen=True)
class _Query:
    """One reading of one fleet; `key` is (fleet role, reading key)."""

    role: str
    reading: Reading
    fleet: Fleet

    @property
    def key(self) -> tuple[str, str]:
        return self.role, self.reading.key

    def request(self, query_id: str) -> dict[str, Any]:
        metric = {
            "Namespace": self.reading.metric.namespace,
            "MetricName": self.reading.metric.name,
            "Dimensions": self.fleet.cloudwatch_dimensions(),
        }
        stat = {"Metric": metric, "Period": 60, "Stat": self.reading.stat}
        return {"Id": query_id, "MetricStat": stat, "ReturnData": True}


def _published_dimensions(fleet: Fleet, reading: Reading) -> Fleet:
    """The fleet's dimensions that the reading's metric is published with (the gateway's: endpoint and variant)."""
    kept = reading.metric.dimensions
    return fleet if kept is None else Fleet(fleet.label, tuple((k, v) for k, v in fleet.dimensions if k in kept))


def _queries(comparison: Comparison) -> list[_Query]:
    metrics = [metric for metric in CANARY_METRICS if comparison.has_gateway_feedback or not metric.feedback]
    readings = dict.fromkeys(reading for metric in metrics for reading in metric.reads)
    return [
        _Query(role, reading, _published_dimensions(fleet, reading))
        for role, fleet in (("baseline", comparison.baseline), ("candidate", comparison.candidate))
        for reading in readings
    ]


def minute_grid(start: datetime, now: datetime) -> list[datetime]:
    """Starts of the complete minutes from the deployment's first minute up to (not including) the current one."""
    first = start.astimezone(UTC).replace(second=0, microsecond=0)
    current = now.astimezone(UTC).replace(second=0, microsecond=0)
    count = max(0, int((current - first) / PERIOD))
    return [first + index * PERIOD for index in range(count)]


def _fetch(cloudwatch: Any, queries: Sequence[_Query], grid: Sequence[datetime]) -> dict[tuple[str, str], np.ndarray]:
    ids = {f"q{index}": query for index, query in enumerate(queries)}
    values = {query.key: np.full(len(grid), np.nan) for query in queries}
    slot = {minute: index for index, minute in enumerate(grid)}
    request: dict[str, Any] = {
        "MetricDataQueries": [query.request(query_id) for query_id, query in ids.items()],
        "StartTime": grid[0],
        "EndTime": grid[-1] + PERIOD,
        "ScanBy": "TimestampAscending",
    }
    while True:
        page = cloudwatch.get_metric_data(**request)
        for result in page.get("MetricDataResults", []):
            series = values[ids[result["Id"]].key]
            for timestamp, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=False):
                index = slot.get(timestamp.astimezone(UTC).replace(second=0, microsecond=0))
                if index is not None:
                    series[index] = value
        if not page.get("NextToken"):
            return values
        request["NextToken"] = page["NextToken"]


def _counts(values: np.ndarray) -> np.ndarray:
    return np.nan_to_num(values, nan=0.0)


def _paired(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Minutes for which CloudWatch returned a datapoint for both fleets."""
    return np.isfinite(first) & np.isfinite(second)


def _role_values(values: dict[tuple[str, str], np.ndarray], metric: CanaryMetric) -> list[tuple[np.ndarray, ...]]:
    return [tuple(values[(role, reading.key)] for reading in metric.reads) for role in ROLES]


def _metric(metric: CanaryMetric, values: dict[tuple[str, str], np.ndarray], paired: np.ndarray) -> MetricObservations:
    """Counts (`trials`, `events`) or means (`mean`, `count`) per fleet; a minute not `paired` is blank for both."""
    series = []
    for first, second in _role_values(values, metric):
        if metric.kind == "proportion":
            trials = np.where(paired, _counts(first), 0.0)
            series.append(CountSeries(events=np.minimum(_counts(second), trials), trials=trials))
        else:
            counts = np.where(paired, _counts(second), 0.0)
            mean = np.where(counts > 0, first / metric.unit_scale(), 0.0)
            series.append(MeanSeries(sample_count=counts, mean=mean))
    baseline, candidate = series
    return MetricObservations(baseline=baseline, candidate=candidate)


def latency_metric(values: dict[tuple[str, str], np.ndarray], paired: np.ndarray) -> str:
    """The latency metric a deployment guards, chosen once: the median when CloudWatch returned p50 for both fleets
    in at least MEDIAN_COVERAGE of the first LATENCY_CHOICE_MINUTES minutes both served, the mean otherwise.

    Those minutes never change once they exist, so the choice never flips; before they exist the median is named,
    and neither latency test can look yet (each needs that many minutes with data for its variance).
    """
    samples, p50 = (reading.key for reading in LATENCY_MEDIAN.reads)
    served = paired & (_counts(values[("baseline", samples)]) > 0)
    served &= _counts(values[("candidate", samples)]) > 0
    first = np.flatnonzero(served)[:LATENCY_CHOICE_MINUTES]
    with_p50 = np.ones(first.size, dtype=bool)
    for role in ROLES:
        medians = values[(role, p50)][first]
        with_p50 &= np.isfinite(medians) & (medians > 0)
    if first.size < LATENCY_CHOICE_MINUTES or np.sum(with_p50) >= MEDIAN_COVERAGE * first.size:
        return LATENCY_MEDIAN.name
    return LATENCY_MEAN.name


def _medians(metric: CanaryMetric, values: dict[tuple[str, str], np.ndarray], paired: np.ndarray) -> MetricObservations:
    """Per-minute p50 series; a minute with requests but no p50 is a minute without data, not a zero latency."""
    series = []
    for sample_count, p50 in _role_values(values, metric):
        counts = _counts(sample_count)
        present = paired & (counts > 0) & np.isfinite(p50) & (p50 > 0)
        medians = np.where(present, p50 / metric.unit_scale(), 0.0)
        series.append(MedianSeries(np.where(present, counts, 0.0), medians))
    baseline, candidate = series
    return MetricObservations(baseline=baseline, candidate=candidate)


@dataclass(frozen=True)
class FleetReadings:
    """One analysis's reading: the observations the verdict judges, and each fleet's Invocations per minute for the
    sample-ratio check (NaN where CloudWatch returned no datapoint: missing, not zero)."""

    observations: CanaryObservations
    baseline_requests: np.ndarray
    candidate_requests: np.ndarray


def fleet_readings(values: dict[tuple[str, str], np.ndarray], has_gateway_feedback: bool) -> FleetReadings:
    """Error rate and mean latency always, the median latency where `latency_metric` chose it (the policy then
    guards it instead of the mean); accuracy when the gateway has fed back outcomes for both fleets. `values` holds
    one array per (fleet role, quantity), NaN where CloudWatch returned no datapoint. A minute only one fleet has
    (the other's is late or lost) is no minute for either: a missing datapoint is not zero requests, and judging
    one fleet's minute alone would compare unequal stretches of time."""
    requests = [values[(role, REQUESTS.key)] for role in ROLES]
    paired = _paired(*requests)
    chosen_latency = latency_metric(values, paired)
    metrics = {}
    for metric in CANARY_METRICS:
        if metric.feedback:
            # The gateway publishes feedback only in minutes that had some: its missing minute is none, and the count
            # test conditions on each minute anyway (a minute with one fleet's feedback alone carries no harm
            # evidence).
            trials = metric.reads[0].key
            if has_gateway_feedback and all(np.nansum(values[(r, trials)]) > 0 for r in ROLES):
                metrics[metric.name] = _metric(metric, values, np.ones(paired.size, dtype=bool))
        elif metric.kind == "median":
            if chosen_latency == metric.name:
                metrics[metric.name] = _medians(metric, values, paired)
        else:
            metrics[metric.name] = _metric(metric, values, paired)
    return FleetReadings(CanaryObservations(metrics), *requests)


def read_fleets(cloudwatch: Any, comparison: Comparison, grid: Sequence[datetime]) -> FleetReadings:
    return fleet_readings(_fetch(cloudwatch, _queries(comparison), grid), comparison.has_gateway_feedback)
