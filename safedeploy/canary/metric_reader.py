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
from safedeploy.stats import CanaryObservations, CountSeries, MeanSeries, MedianSeries, MetricObservations

PERIOD = timedelta(minutes=1)
SAGEMAKER_NAMESPACE = "AWS/SageMaker"
GATEWAY_NAMESPACE = "SafeDeploy/Gateway"
MICROSECONDS_PER_MS = 1000.0
MEDIAN_COVERAGE = 0.9  # share of the first minutes with requests that must carry a p50 for the median to be used
LATENCY_CHOICE_MINUTES = 10  # the minutes that choose median or mean, once per deployment
LATENCY_MEDIAN = "latency_p50_ms"
LATENCY_MEAN = "latency_ms"
ROLES = ("baseline", "candidate")


@dataclass(frozen=True)
class _Query:
    """One metric statistic of one fleet; `key` is (fleet role, quantity)."""

    key: tuple[str, str]
    namespace: str
    metric_name: str
    stat: str
    fleet: Fleet

    def request(self, query_id: str) -> dict[str, Any]:
        metric = {
            "Namespace": self.namespace,
            "MetricName": self.metric_name,
            "Dimensions": self.fleet.cloudwatch_dimensions(),
        }
        return {"Id": query_id, "MetricStat": {"Metric": metric, "Period": 60, "Stat": self.stat}, "ReturnData": True}


def _gateway_dimensions(fleet: Fleet) -> Fleet:
    """The gateway reports EndpointName and VariantName only."""
    return Fleet(fleet.label, tuple((k, v) for k, v in fleet.dimensions if k in ("EndpointName", "VariantName")))


def _queries(comparison: Comparison) -> list[_Query]:
    queries = []
    for role, fleet in (("baseline", comparison.baseline), ("candidate", comparison.candidate)):
        queries += [
            _Query((role, "invocations"), SAGEMAKER_NAMESPACE, "Invocations", "Sum", fleet),
            _Query((role, "errors"), SAGEMAKER_NAMESPACE, "Invocation5XXErrors", "Sum", fleet),
            _Query((role, "latency_mean"), SAGEMAKER_NAMESPACE, "ModelLatency", "Average", fleet),
            _Query((role, "latency_count"), SAGEMAKER_NAMESPACE, "ModelLatency", "SampleCount", fleet),
            _Query((role, "latency_p50"), SAGEMAKER_NAMESPACE, "ModelLatency", "p50", fleet),
        ]
        if comparison.has_gateway_feedback:
            gateway = _gateway_dimensions(fleet)
            queries += [
                _Query((role, "feedback"), GATEWAY_NAMESPACE, "FeedbackReceived", "Sum", gateway),
                _Query((role, "correct"), GATEWAY_NAMESPACE, "FeedbackCorrect", "Sum", gateway),
            ]
    return queries


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


def _metric(kind: str, role_values: Sequence[tuple[np.ndarray, np.ndarray]], paired: np.ndarray) -> MetricObservations:
    """Counts (`trials`, `events`) or means (`mean`, `count`) per fleet; a minute not `paired` is blank for both."""
    series = []
    for first, second in role_values:
        if kind == "count":
            trials = np.where(paired, _counts(first), 0.0)
            series.append(CountSeries(events=np.minimum(_counts(second), trials), trials=trials))
        else:
            counts = np.where(paired, _counts(second), 0.0)
            series.append(MeanSeries(sample_count=counts, mean=np.where(counts > 0, first / MICROSECONDS_PER_MS, 0.0)))
    baseline, candidate = series
    return MetricObservations(baseline=baseline, candidate=candidate)


def latency_metric(values: dict[tuple[str, str], np.ndarray], paired: np.ndarray) -> str:
    """The latency metric a deployment guards, chosen once: the median when CloudWatch returned p50 for both fleets
    in at least MEDIAN_COVERAGE of the first LATENCY_CHOICE_MINUTES minutes both served, the mean otherwise.

    Those minutes never change once they exist, so the choice never flips; before they exist the median is named,
    and neither latency test can look yet (each needs that many minutes with data for its variance).
    """
    served = paired & (_counts(values[("baseline", "latency_count")]) > 0)
    served &= _counts(values[("candidate", "latency_count")]) > 0
    first = np.flatnonzero(served)[:LATENCY_CHOICE_MINUTES]
    with_p50 = np.ones(first.size, dtype=bool)
    for role in ROLES:
        medians = values[(role, "latency_p50")][first]
        with_p50 &= np.isfinite(medians) & (medians > 0)
    if first.size < LATENCY_CHOICE_MINUTES or np.sum(with_p50) >= MEDIAN_COVERAGE * first.size:
        return LATENCY_MEDIAN
    return LATENCY_MEAN


def _medians(values: dict[tuple[str, str], np.ndarray], paired: np.ndarray) -> MetricObservations:
    """Per-minute p50 series; a minute with requests but no p50 is a minute without data, not a zero latency."""
    series = []
    for role in ROLES:
        counts, medians = _counts(values[(role, "latency_count")]), values[(role, "latency_p50")]
        present = paired & (counts > 0) & np.isfinite(medians) & (medians > 0)
        series.append(
            MedianSeries(np.where(present, counts, 0.0), np.where(present, medians / MICROSECONDS_PER_MS, 0.0))
        )
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
    requests = [values[(role, "invocations")] for role in ROLES]
    paired = _paired(*requests)
    latency = [(values[(r, "latency_mean")], values[(r, "latency_count")]) for r in ROLES]
    metrics = {
        "error_rate": _metric("count", [(values[(r, "invocations")], values[(r, "errors")]) for r in ROLES], paired),
        LATENCY_MEAN: _metric("mean", latency, paired),
    }
    if latency_metric(values, paired) == LATENCY_MEDIAN:
        metrics[LATENCY_MEDIAN] = _medians(values, paired)
    if has_gateway_feedback and all(np.nansum(values[(r, "feedback")]) > 0 for r in ROLES):
        # The gateway publishes feedback only in minutes that had some: its missing minute is none, and the count
        # test conditions on each minute anyway (a minute with one fleet's feedback alone carries no harm evidence).
        feedback = [(values[(r, "feedback")], values[(r, "correct")]) for r in ROLES]
        metrics["accuracy"] = _metric("count", feedback, np.ones(paired.size, dtype=bool))
    return FleetReadings(CanaryObservations(metrics), *requests)


def read_fleets(cloudwatch: Any, comparison: Comparison, grid: Sequence[datetime]) -> FleetReadings:
    return fleet_readings(_fetch(cloudwatch, _queries(comparison), grid), comparison.has_gateway_feedback)
