"""Per-minute fleet aggregates from one batched GetMetricData request, aligned on one grid of complete minutes.

The statistics engine needs every metric of both fleets over the same periods, so a minute in which a fleet served
nothing is a zero count (and an undefined mean), never a missing entry. The current minute is left out until it
is complete: CloudWatch is still aggregating it, and a partial count would look like a traffic drop.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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
MEDIAN_COVERAGE = 0.9  # share of minutes with requests that must carry a p50 for the median to be used


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


def _metric(kind: str, role_values: Iterable[tuple[np.ndarray, np.ndarray]]) -> MetricObservations:
    series = []
    for first, second in role_values:
        if kind == "count":
            trials = _counts(first)
            series.append(CountSeries(events=np.minimum(_counts(second), trials), trials=trials))
        else:
            counts = _counts(second)
            series.append(MeanSeries(sample_count=counts, mean=np.where(counts > 0, first / MICROSECONDS_PER_MS, 0.0)))
    baseline, candidate = series
    return MetricObservations(baseline=baseline, candidate=candidate)


def _medians(values: dict[tuple[str, str], np.ndarray], roles: Sequence[str]) -> MetricObservations | None:
    """Per-minute p50 series, or None when CloudWatch left out the percentile in most minutes with requests
    (percentiles need raw values); a minute with requests but no p50 counts as a minute without data."""
    series = []
    for role in roles:
        counts, medians = _counts(values[(role, "latency_count")]), values[(role, "latency_p50")]
        present = (counts > 0) & np.isfinite(medians) & (medians > 0)
        if np.sum(counts > 0) and np.sum(present) < MEDIAN_COVERAGE * np.sum(counts > 0):
            return None
        series.append(
            MedianSeries(np.where(present, counts, 0.0), np.where(present, medians / MICROSECONDS_PER_MS, 0.0))
        )
    baseline, candidate = series
    return MetricObservations(baseline=baseline, candidate=candidate)


@dataclass(frozen=True)
class FleetReadings:
    """One analysis's reading: the observations the verdict judges, and each fleet's Invocations per minute for the
    sample-ratio check."""

    observations: CanaryObservations
    baseline_requests: np.ndarray
    candidate_requests: np.ndarray


def fleet_readings(values: dict[tuple[str, str], np.ndarray], has_gateway_feedback: bool) -> FleetReadings:
    """Error rate and latency (median and mean) always; accuracy when the gateway has fed back outcomes for both
    fleets. The policy guards the median where it is present and the mean otherwise. `values` holds one array per
    (fleet role, quantity), NaN where CloudWatch returned no datapoint."""
    roles = ("baseline", "candidate")
    metrics = {
        "error_rate": _metric("count", [(values[(r, "invocations")], values[(r, "errors")]) for r in roles]),
        "latency_ms": _metric("mean", [(values[(r, "latency_mean")], values[(r, "latency_count")]) for r in roles]),
    }
    medians = _medians(values, roles)
    if medians is not None:
        metrics["latency_p50_ms"] = medians
    if has_gateway_feedback and all(np.nansum(values[(r, "feedback")]) > 0 for r in roles):
        metrics["accuracy"] = _metric("count", [(values[(r, "feedback")], values[(r, "correct")]) for r in roles])
    baseline, candidate = (_counts(values[(role, "invocations")]) for role in roles)
    return FleetReadings(CanaryObservations(metrics), baseline, candidate)


def read_fleets(cloudwatch: Any, comparison: Comparison, grid: Sequence[datetime]) -> FleetReadings:
    return fleet_readings(_fetch(cloudwatch, _queries(comparison), grid), comparison.has_gateway_feedback)
