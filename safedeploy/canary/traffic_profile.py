"""What an endpoint's last days of CloudWatch say about the traffic a canary will see, for `safedeploy plan`.

Hourly Invocations, Invocation5XXErrors and ModelLatency (SampleCount, p50, p90, p99) of the live variant over
`DAYS` days, one batched GetMetricData request. The quietest hour sets the traffic (a bake planned for it reaches
its power at any hour); the spread of log latency comes from the p90 / p50 ratio (for lognormal latency
ln(p90 / p50) = 1.2816 sigma), which the median's own test relies on; p99 / p50 is reported as the tail.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from safedeploy.canary.metrics import (
    ENDPOINT_DIMENSION,
    ERRORS_5XX,
    LATENCY_SAMPLES,
    MICROSECONDS_PER_MS,
    MODEL_LATENCY,
    REQUESTS,
    VARIANT_DIMENSION,
    Reading,
)
from safedeploy.errors import InputError
from safedeploy.guardrails.release_names import PRODUCTION_VARIANT

DAYS = 7
HOUR = 3600
Z90 = 1.2815515655446004  # standard normal 90th percentile
P50, P90, P99 = (Reading(stat, MODEL_LATENCY, stat) for stat in ("p50", "p90", "p99"))
PROFILE_READINGS = (REQUESTS, ERRORS_5XX, LATENCY_SAMPLES, P50, P90, P99)


@dataclass(frozen=True)
class TrafficProfile:
    endpoint_name: str
    hours: int  # hours with traffic in the window
    idle_hours: int  # hours of the window without a single request
    quietest_requests_per_minute: float
    median_requests_per_minute: float
    error_rate: float
    latency_p50_ms: float | None
    latency_log_sigma: float | None
    latency_p99_over_p50: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_profile(cloudwatch: Any, endpoint_name: str, now: datetime) -> TrafficProfile:
    end = now.replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=DAYS)
    dimensions = [
        {"Name": ENDPOINT_DIMENSION, "Value": endpoint_name},
        {"Name": VARIANT_DIMENSION, "Value": PRODUCTION_VARIANT},
    ]
    queries = [
        {
            "Id": reading.key,
            "MetricStat": {
                "Metric": {
                    "Namespace": reading.metric.namespace,
                    "MetricName": reading.metric.name,
                    "Dimensions": dimensions,
                },
                "Period": HOUR,
                "Stat": reading.stat,
            },
            "ReturnData": True,
        }
        for reading in PROFILE_READINGS
    ]
    series: dict[str, dict[datetime, float]] = {reading.key: {} for reading in PROFILE_READINGS}
    request: dict[str, Any] = {"MetricDataQueries": queries, "StartTime": start, "EndTime": end}
    while True:
        page = cloudwatch.get_metric_data(**request)
        for result in page.get("MetricDataResults", []):
            series[result["Id"]].update(zip(result.get("Timestamps", []), result.get("Values", []), strict=False))
        if not page.get("NextToken"):
            break
        request["NextToken"] = page["NextToken"]
    return summarise(endpoint_name, series)


def summarise(endpoint_name: str, series: dict[str, dict[datetime, float]]) -> TrafficProfile:
    hours = sorted(series[REQUESTS.key])
    invocations = np.array([series[REQUESTS.key][hour] for hour in hours], dtype=float)
    if not hours or invocations.sum() <= 0:
        raise InputError(f"endpoint {endpoint_name} served no requests in the last {DAYS} days: nothing to plan from")
    errors = sum(series[ERRORS_5XX.key].values())
    p50 = _typical(series[P50.key])
    p90, p99 = _typical(series[P90.key]), _typical(series[P99.key])
    sigma = math.log(p90 / p50) / Z90 if p50 and p90 and p90 > p50 else None
    return TrafficProfile(
        endpoint_name=endpoint_name,
        hours=len(hours),
        idle_hours=max(0, DAYS * 24 - len(hours)),
        quietest_requests_per_minute=float(invocations.min()) / 60.0,
        median_requests_per_minute=float(np.median(invocations)) / 60.0,
        error_rate=float(errors / invocations.sum()),
        latency_p50_ms=None if p50 is None else p50 / MICROSECONDS_PER_MS,
        latency_log_sigma=sigma,
        latency_p99_over_p50=p99 / p50 if p50 and p99 else None,
    )


def _typical(values: dict[datetime, float]) -> float | None:
    """The median hour's value (CloudWatch leaves out percentiles it cannot compute)."""
    present = [value for value in values.values() if value is not None and value > 0]
    return float(np.median(present)) if present else None
