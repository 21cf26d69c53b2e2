"""The parts of AWS that act on their own, simulated minute by minute: SageMaker splitting traffic between two
fleets and reporting per-fleet metrics, CloudWatch Logs turning the gateway's EMF lines into metrics, CloudWatch
evaluating the CanaryVerdict alarm, and SageMaker ending the deployment (done after the bake, or rolled back).

Requests really go through the gateway (HTTP, on 127.0.0.1) to a stub endpoint whose replies are scripted from each
fleet's behaviour; only time is simulated, so a ten-minute bake takes seconds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from safedeploy.guardrails.release_names import PRODUCTION_VARIANT
from serving.stub_endpoint import StubBehaviour, StubReply
from tests.support.fleet_metrics import FleetBehaviour, draw_latencies, fleet_dimensions, publish_observed

HEALTH_CHECK_ROW = [25, 1, 0, 1, 0, 0, 1, 1]
ALARM_PERIODS, ALARM_DATAPOINTS = 3, 2  # the CanaryVerdict alarm: 2 of 3 minutes at 1


@dataclass(frozen=True)
class Fleet:
    config_name: str
    share: float
    behaviour: FleetBehaviour


@dataclass(frozen=True)
class MinuteOfTraffic:
    at: datetime
    per_fleet: dict[str, dict[str, float]]
    gateway_statuses: dict[int, int]


@dataclass
class TrafficReplay:
    """One endpoint's traffic: `minute()` serves a minute of requests and publishes what AWS would record."""

    endpoint_name: str
    gateway_url: str
    gateway_log: Path
    stub: StubBehaviour
    cloudwatch: Any
    rng: np.random.Generator
    _log_offset: int = field(default=0)

    def minute(self, at: datetime, requests: int, fleets: Sequence[Fleet]) -> MinuteOfTraffic:
        shares = np.array([fleet.share for fleet in fleets])
        chosen = self.rng.choice(len(fleets), size=requests, p=shares / shares.sum())
        per_fleet = {}
        for index, fleet in enumerate(fleets):
            served = int((chosen == index).sum())
            failed = self.rng.random(served) < fleet.behaviour.error_rate
            latencies = draw_latencies(fleet.behaviour, served, self.rng)
            self.stub.scripted.extend(
                StubReply(status=424, error_type="ModelError", variant=PRODUCTION_VARIANT, message="model failed")
                if error
                else StubReply(variant=PRODUCTION_VARIANT)
                for error in failed
            )
            publish_observed(
                self.cloudwatch,
                fleet_dimensions(self.endpoint_name, PRODUCTION_VARIANT, fleet.config_name),
                at,
                int(failed.sum()),
                latencies,
            )
            per_fleet[fleet.config_name] = {
                "requests": served,
                "errors": int(failed.sum()),
                "latency_ms": float(latencies.mean()) if served else 0.0,
            }
        statuses = self._send(requests)
        self._forward_gateway_metrics(at)
        return MinuteOfTraffic(at, per_fleet, statuses)

    def _send(self, requests: int) -> dict[int, int]:
        body = {"instances": [HEALTH_CHECK_ROW]}
        with httpx.Client(base_url=self.gateway_url, timeout=10) as client, ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(lambda _: client.post("/predict", json=body).status_code, range(requests)))
        return {code: codes.count(code) for code in sorted(set(codes))}

    def _forward_gateway_metrics(self, at: datetime) -> None:
        """What CloudWatch Logs does with EMF lines: the gateway's per-variant counts become metrics."""
        text = self.gateway_log.read_text()
        new, self._log_offset = text[self._log_offset :], len(text)
        for line in new.splitlines():
            if not line.startswith("{") or '"_aws"' not in line:
                continue
            document = json.loads(line)
            (directive,) = document["_aws"]["CloudWatchMetrics"]
            dims = [{"Name": name, "Value": document[name]} for name in directive["Dimensions"][0]]
            data = [
                {
                    "MetricName": metric["Name"],
                    "Dimensions": dims,
                    "Timestamp": at,
                    "Value": float(document[metric["Name"]]),
                }
                for metric in directive["Metrics"]
                if isinstance(document.get(metric["Name"]), int | float)
            ]
            if data:
                self.cloudwatch.put_metric_data(Namespace=directive["Namespace"], MetricData=data)


@dataclass
class VerdictAlarm:
    """CloudWatch's evaluation of the CanaryVerdict alarm: ALARM when 2 of the last 3 minutes are 1, missing = 1."""

    history: list[float | None] = field(default_factory=list)

    def observe(self, published: float | None) -> bool:
        self.history.append(published)
        window = [1.0 if value is None else value for value in self.history[-ALARM_PERIODS:]]
        return sum(value >= 1 for value in window) >= ALARM_DATAPOINTS


def minute_start(at: datetime, minute: int) -> datetime:
    return at.replace(second=0, microsecond=0) + timedelta(minutes=minute)
