"""What SageMaker would publish for a fleet each minute, written into (moto's) CloudWatch at a chosen time.

SageMaker reports Invocations and Invocation5XXErrors as sums and ModelLatency (microseconds) as statistic sets,
per EndpointName and VariantName, plus EndpointConfigName while a blue/green deployment runs two fleets.
"""

from __future__ import annotations

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


def publish_observed(
    cloudwatch: Any, dimensions: list[dict[str, str]], minute: datetime, errors: int, latencies_ms: np.ndarray
) -> None:
    """One minute of a fleet as SageMaker reports it: sums, and latency as a statistic set in microseconds."""
    requests = int(latencies_ms.size)
    data: list[dict[str, Any]] = [
        {"MetricName": "Invocations", "Dimensions": dimensions, "Timestamp": minute, "Value": float(requests)},
        {"MetricName": "Invocation5XXErrors", "Dimensions": dimensions, "Timestamp": minute, "Value": float(errors)},
    ]
    if requests:
        micros = latencies_ms * 1000.0
        statistics = {
            "SampleCount": float(requests),
            "Sum": float(micros.sum()),
            "Minimum": float(micros.min()),
            "Maximum": float(micros.max()),
        }
        data.append(
            {"MetricName": "ModelLatency", "Dimensions": dimensions, "Timestamp": minute, "StatisticValues": statistics}
        )
    cloudwatch.put_metric_data(Namespace=SAGEMAKER_NAMESPACE, MetricData=data)


def draw_latencies(behaviour: FleetBehaviour, requests: int, rng: np.random.Generator) -> np.ndarray:
    return rng.normal(behaviour.latency_ms, behaviour.latency_sd_ms, size=requests).clip(min=1.0)


def publish_minute(
    cloudwatch: Any,
    dimensions: list[dict[str, str]],
    minute: datetime,
    requests: int,
    behaviour: FleetBehaviour,
    rng: np.random.Generator,
) -> None:
    """Draw one minute of a fleet's traffic from its behaviour and publish it as SageMaker would."""
    errors = int(rng.binomial(requests, behaviour.error_rate)) if requests else 0
    publish_observed(cloudwatch, dimensions, minute, errors, draw_latencies(behaviour, requests, rng))
