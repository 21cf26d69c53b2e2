"""The parts of AWS that act on their own, simulated minute by minute: SageMaker splitting traffic between fleets
(blue/green configs, A/B variants, a shadow's copies) and reporting per-fleet metrics, CloudWatch Logs turning the
gateway's EMF lines into metrics, and CloudWatch evaluating the rollback alarms SageMaker watches.

Requests really go through the gateway (HTTP, on 127.0.0.1) to a stub endpoint whose replies are scripted from each
fleet's behaviour; only time is simulated, so a ten-minute bake takes seconds.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from moto.cloudwatch.models import cloudwatch_backends
from moto.core import DEFAULT_ACCOUNT_ID

from safedeploy.canary.outputs import VERDICT_DETAIL_TYPE, VERDICT_EVENT_SOURCE
from safedeploy.guardrails.alarm_noise import ALARM_DATAPOINTS, ALARM_PERIODS
from safedeploy.guardrails.release_names import PRODUCTION_VARIANT
from serving.stub_endpoint import StubBehaviour, StubReply
from testbed.fleet_metrics import FleetBehaviour, draw_latencies, fleet_dimensions, publish_observed


@dataclass(frozen=True)
class SimulatedFleet:
    """One fleet of a release as SageMaker reports it: `label` (its endpoint config or variant) and `dimensions`.

    `share` is its fraction of the requests; a shadow variant (`serves=False`) instead receives copies of that
    fraction of the requests and answers nobody, so the gateway never sees it.
    """

    label: str
    share: float
    behaviour: FleetBehaviour
    dimensions: tuple[tuple[str, str], ...]
    variant: str = PRODUCTION_VARIANT
    serves: bool = True


def blue_green_fleet(endpoint: str, config_name: str, share: float, behaviour: FleetBehaviour) -> SimulatedFleet:
    """A fleet of a blue/green or rolling update: both keep the variant name, the config name tells them apart."""
    dims = tuple((d["Name"], d["Value"]) for d in fleet_dimensions(endpoint, PRODUCTION_VARIANT, config_name))
    return SimulatedFleet(config_name, share, behaviour, dims)


def variant_fleet(
    endpoint: str, variant: str, share: float, behaviour: FleetBehaviour, serves: bool = True
) -> SimulatedFleet:
    """A production or shadow variant of an experiment, reported by its variant name."""
    dims = tuple((d["Name"], d["Value"]) for d in fleet_dimensions(endpoint, variant))
    return SimulatedFleet(variant, share, behaviour, dims, variant, serves)


@dataclass(frozen=True)
class MinuteOfTraffic:
    """What one minute served: per fleet, the gateway's status counts, and the endpoint-wide figures the fixed
    rollback alarms watch (the 5xx rate and the average latency of the requests the endpoint answered)."""

    at: datetime
    per_fleet: dict[str, dict[str, float]]
    gateway_statuses: dict[int, int]
    error_rate: float | None
    mean_latency_ms: float | None


@dataclass
class TrafficReplay:
    """One endpoint's traffic: `minute()` serves a minute of requests and publishes what AWS would record."""

    endpoint_name: str
    gateway_url: str
    gateway_log: Path
    stub: StubBehaviour
    cloudwatch: Any
    rng: np.random.Generator
    row: Sequence[float]  # what each request sends: the model's health-check row (model.contract)
    api_key: str  # an API key the environment's gateway table holds (scope predict)
    _log_offset: int = field(default=0)

    def minute(self, at: datetime, requests: int, fleets: Sequence[SimulatedFleet]) -> MinuteOfTraffic:
        serving = [fleet for fleet in fleets if fleet.serves and fleet.share > 0]
        shares = np.array([fleet.share for fleet in serving])
        chosen = self.rng.choice(len(serving), size=requests, p=shares / shares.sum())
        replies: list[list[StubReply]] = [[] for _ in serving]
        per_fleet, answered_errors, answered_latencies = {}, 0, []
        for fleet in fleets:
            index = serving.index(fleet) if fleet in serving else None
            # A serving fleet answers the requests chosen for it; a shadow gets a binomial copy of the minute.
            served = int(self.rng.binomial(requests, fleet.share)) if index is None else int((chosen == index).sum())
            failed = self.rng.random(served) < fleet.behaviour.error_rate
            latencies = draw_latencies(fleet.behaviour, served, self.rng)
            if index is not None:
                replies[index] = [
                    StubReply(status=424, error_type="ModelError", variant=fleet.variant, message="model failed")
                    if error
                    else StubReply(variant=fleet.variant)
                    for error in failed
                ]
                answered_errors += int(failed.sum())
                answered_latencies.append(latencies)
            publish_observed(self.cloudwatch, [{"Name": k, "Value": v} for k, v in fleet.dimensions], at,
                             int(failed.sum()), latencies)  # fmt: skip
            per_fleet[fleet.label] = {
                "requests": served,
                "errors": int(failed.sum()),
                "latency_ms": float(latencies.mean()) if served else 0.0,
            }
        # Requests are alike, so which one gets which fleet's reply does not matter; the counts do.
        self.stub.scripted.extend(reply for fleet_replies in replies for reply in fleet_replies)
        statuses = self._send(requests)
        self._forward_gateway_metrics(at)
        latencies_ms = np.concatenate(answered_latencies) if answered_latencies else np.array([])
        return MinuteOfTraffic(
            at,
            per_fleet,
            statuses,
            answered_errors / requests if requests else None,
            float(latencies_ms.mean()) if latencies_ms.size else None,
        )

    def _send(self, requests: int) -> dict[int, int]:
        payload = json.dumps({"instances": [list(self.row)]}).encode()
        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(lambda _: self._post("/predict", payload), range(requests)))
        return {code: codes.count(code) for code in sorted(set(codes))}

    def _post(self, path: str, payload: bytes) -> int:
        """One request on its own connection, closed after it: a kept-alive connection idle longer than the gateway's
        header timeout is closed under the next request, and a shared pool without keep-alive closed sockets other
        threads were reading (httpx, EBADF)."""
        address = urlsplit(self.gateway_url)
        connection = http.client.HTTPConnection(address.hostname or "127.0.0.1", address.port, timeout=10)
        try:
            headers = {"Content-Type": "application/json", "X-Api-Key": self.api_key}
            connection.request("POST", path, body=payload, headers=headers)
            return connection.getresponse().status
        finally:
            connection.close()

    def _forward_gateway_metrics(self, at: datetime) -> None:
        """What CloudWatch Logs does with EMF lines: the gateway's per-variant counts become metrics."""
        text = self.gateway_log.read_text()
        complete = text[: text.rfind("\n") + 1]  # a line still being written is read next minute, whole
        new, self._log_offset = complete[self._log_offset :], len(complete)
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


# CloudWatch retrieves more data points than Evaluation Periods, the evaluation range; how many for one-minute
# periods is not documented (the documentation's example retrieves 5 for 3 periods), so the rehearsal plays that.
EVALUATION_RANGE = ALARM_PERIODS + 2


def evaluate_alarm(points: Sequence[bool | None], *, periods: int, datapoints: int, missing_breaches: bool) -> bool:
    """CloudWatch's documented evaluation of the evaluation range `points` (oldest first; True breaching, None
    missing): ALARM or not. With at least `periods` existing points, the most recent existing ones are evaluated
    and the missing-data setting is ignored; with fewer, missing ones are filled with the setting "as few times as
    possible" and every existing point is evaluated ("Configuring how CloudWatch alarms treat missing data")."""
    existing = [point for point in points if point is not None]
    if len(existing) >= periods:
        window = existing[-periods:]
    else:
        window = existing + [missing_breaches] * (periods - len(existing))
    return sum(window) >= datapoints


@dataclass
class Alarm:
    """CloudWatch's evaluation of one rollback alarm (2 of 3 one-minute periods) over its evaluation range.

    Missing data breaches only where the stack says so (the verdict alarm); the 5xx-rate and latency alarms treat
    it as not breaching. `fill`: the verdict alarm's FILL(verdict, 1), which fills the minutes between real points;
    whether it also fills past the last one is not documented, so it does not here (the slower case).
    """

    name: str
    reads: str  # which reading of the minute it evaluates: "error_rate", "mean_latency_ms" or "verdict"
    threshold: float
    inclusive: bool = False
    missing_breaches: bool = False
    fill: float | None = None
    evaluation_range: int = EVALUATION_RANGE
    values: list[float | None] = field(default_factory=list)

    def observe(self, value: float | None) -> bool:
        self.values.append(value)
        values = list(self.values)
        real = [index for index, item in enumerate(values) if item is not None]
        if self.fill is not None and real:
            values[real[0] : real[-1]] = [self.fill if v is None else v for v in values[real[0] : real[-1]]]
        points = [None if v is None else self._breaches(v) for v in values[-self.evaluation_range :]]
        return evaluate_alarm(
            points, periods=ALARM_PERIODS, datapoints=ALARM_DATAPOINTS, missing_breaches=self.missing_breaches
        )

    def _breaches(self, value: float) -> bool:
        return value >= self.threshold if self.inclusive else value > self.threshold


@dataclass
class VerdictBus:
    """EventBridge's delivery of verdict events: the guardrails stack's rule pattern, with a queue as its target
    so the rehearsal hands each event to the traffic shifter as EventBridge would invoke it."""

    sqs: Any
    queue_url: str

    @classmethod
    def for_endpoint(cls, events: Any, sqs: Any, endpoint_name: str) -> VerdictBus:
        queue_url = sqs.create_queue(QueueName=f"{endpoint_name}-verdicts")["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
        pattern = {
            "source": [VERDICT_EVENT_SOURCE],
            "detail-type": [VERDICT_DETAIL_TYPE],
            "detail": {"endpoint_name": [endpoint_name]},
        }
        events.put_rule(Name=f"{endpoint_name}-on-verdict", EventPattern=json.dumps(pattern))
        events.put_targets(
            Rule=f"{endpoint_name}-on-verdict", Targets=[{"Id": "shifter", "Arn": attributes["QueueArn"]}]
        )
        return cls(sqs, queue_url)

    def drain(self) -> list[dict[str, Any]]:
        """The events delivered since the last call, oldest first."""
        delivered: list[dict[str, Any]] = []
        while messages := self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages"):
            for message in messages:
                delivered.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return delivered


def forget_simulated_future(region: str, now: datetime) -> None:
    """Drop the metric datapoints stamped after `now` (moto's CloudWatch, in this process).

    A release's bake is simulated ahead of the wall clock, but the next release starts at the wall clock's time (its
    deployment start is AWS's and the deploy's own): without this its minutes would overlap the previous release's
    simulated ones, and a fleet that served in both (the new live config, `AllTraffic`) would count twice.
    """
    backend = cloudwatch_backends[DEFAULT_ACCOUNT_ID][region]
    backend.metric_data = [datum for datum in backend.metric_data if _utc(datum.timestamp) <= now]


def _utc(stamp: datetime | str) -> datetime:
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00")) if isinstance(stamp, str) else stamp
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def minute_start(at: datetime, minute: int) -> datetime:
    return at.replace(second=0, microsecond=0) + timedelta(minutes=minute)
