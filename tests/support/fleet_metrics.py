"""What SageMaker would publish for a fleet each minute, written into (moto's) CloudWatch at a chosen time.

SageMaker reports Invocations and Invocation5XXErrors as sums and ModelLatency (microseconds) as statistic sets,
per EndpointName and VariantName, plus EndpointConfigName while a blue/green deployment runs two fleets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

SAGEMAKER_NAMESPACE = "AWS/SageMaker"


@dataclass(frozen=True)
class FleetBehaviour:
    """A fleet's true error probability and mean latency; each minute's counts are drawn from them."""

    error_rate: float
    latency_ms: float
    latency_sd_ms: float = 20.0


def fleet_dimensions(endpoint: str, variant: str, config: str | None = None) -> list[dict[str, str]]:
    dims = {"EndpointName": endpoint, "VariantName": variant, **({"EndpointConfigName": config} if config else {})}
    return [{"Name": name, "Value": value} for name, value in dims.items()]


def publish_minute(
    cloudwatch: Any,
    dimensions: list[dict[str, str]],
    minute: datetime,
    requests: int,
    behaviour: FleetBehaviour,
    rng: np.random.Generator,
) -> Mapping[str, float]:
    """Draw one minute of a fleet's traffic and publish it as SageMaker would; returns what was published."""
    errors = int(rng.binomial(requests, behaviour.error_rate)) if requests else 0
    latencies = rng.normal(behaviour.latency_ms, behaviour.latency_sd_ms, size=requests).clip(min=1.0) * 1000.0
    data: list[dict[str, Any]] = [
        {"MetricName": "Invocations", "Dimensions": dimensions, "Timestamp": minute, "Value": float(requests)},
        {"MetricName": "Invocation5XXErrors", "Dimensions": dimensions, "Timestamp": minute, "Value": float(errors)},
    ]
    if requests:
        statistics = {
            "SampleCount": float(requests),
            "Sum": float(latencies.sum()),
            "Minimum": float(latencies.min()),
            "Maximum": float(latencies.max()),
        }
        data.append(
            {"MetricName": "ModelLatency", "Dimensions": dimensions, "Timestamp": minute, "StatisticValues": statistics}
        )
    cloudwatch.put_metric_data(Namespace=SAGEMAKER_NAMESPACE, MetricData=data)
    return {"requests": requests, "errors": errors, "latency_ms": float(latencies.mean() / 1000) if requests else 0.0}
