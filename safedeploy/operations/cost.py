"""A monthly estimate of what one environment costs while it runs, from its configuration and a dated price table.

What is priced is what runs around the clock whether or not anyone deploys: the endpoint's instances, the NAT
gateways, the load balancer, the gateway's Fargate tasks, the canary-analysis Lambda (every minute), CloudWatch
logs, alarms, dashboard and custom metrics, and the KMS key. Traffic-driven lines (NAT data, load balancer capacity
units, log volume) use the configured `expected_requests_per_minute`. Builds (CodeBuild minutes, training) and S3
storage depend on how often people push and are left out; the output says so.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from safedeploy.environment_config import load_environment
from safedeploy.errors import ConfigError

MINUTES_PER_MONTH = 30 * 24 * 60
# Usage assumptions per request, stated in the output so they can be argued with.
BYTES_THROUGH_NAT_PER_REQUEST = 4_000  # the gateway's SageMaker runtime call and its answer leave through NAT
LOG_BYTES_PER_REQUEST = 600  # one access-log line and one metrics line
FLOW_LOG_BYTES_PER_REQUEST = 300
CANARY_LAMBDA_SECONDS = 2.0
CANARY_LAMBDA_GB = 1.0  # memory_size 1024 in the guardrails stack
ALARMS = 6  # per environment: endpoint 5xx, latency, verdict; gateway 5xx, latency, unhealthy hosts
CUSTOM_METRICS = 12  # gateway per-variant latency, errors, accuracy; the canary verdict and statistics
LCU_REQUESTS_PER_SECOND = 25.0  # an LCU covers 25 new connections per second (one request per connection, worst case)


@dataclass(frozen=True)
class PriceTable:
    region: str
    as_of: str
    source: str
    currency: str
    prices: Mapping[str, Any]

    @classmethod
    def load(cls, region: str) -> PriceTable:
        try:
            text = resources.files("safedeploy.operations.prices").joinpath(f"{region}.json").read_text()
        except FileNotFoundError:
            available = sorted(
                path.name.removesuffix(".json")
                for path in resources.files("safedeploy.operations.prices").iterdir()
                if path.name.endswith(".json")
            )
            raise ConfigError(f"no price table for region {region}; tables exist for: {', '.join(available)}") from None
        data = json.loads(text)
        return cls(data["region"], data["as_of"], data["source"], data["currency"], data)

    def __getitem__(self, key: str) -> Any:
        return self.prices[key]


@dataclass(frozen=True)
class Line:
    item: str
    quantity: str
    monthly: float


@dataclass(frozen=True)
class Estimate:
    env: str
    table: PriceTable
    lines: tuple[Line, ...]

    @property
    def total(self) -> float:
        return sum(line.monthly for line in self.lines)

    def render(self) -> str:
        width = max(len(line.item) for line in self.lines)
        rows = [f"  {line.item:<{width}}  {line.monthly:>9.2f}  {line.quantity}" for line in self.lines]
        return "\n".join(
            [
                f"environment {self.env}: about {self.total:,.0f} {self.table.currency} per month while it runs",
                *rows,
                f"  {'total':<{width}}  {self.total:>9.2f}",
                f"prices: {self.table.region}, as of {self.table.as_of} ({self.table.source})",
                "not included: CodeBuild minutes and training jobs per release, S3 storage and requests, data transfer "
                "to the internet, the Feature Store",
            ]
        )


def estimate(env: str, raw: Mapping[str, Any], table: PriceTable) -> Estimate:
    """`raw`: the environment's entry of cdk.json `environments`, read with synth's models (defaults included)."""
    config = load_environment(env, raw)
    endpoint, serving = config.endpoint, config.serving
    hours = float(table["hours_per_month"])
    instance_prices = table["sagemaker_instance_hour"]
    if endpoint.instance_type not in instance_prices:
        raise ConfigError(
            f"environments.{env}.endpoint.instance_type: no {table.region} price for {endpoint.instance_type} in the "
            f"table of {table.as_of} (priced: {', '.join(sorted(instance_prices))})"
        )
    requests = endpoint.canary.expected_requests_per_minute * MINUTES_PER_MONTH
    nat_gateways, tasks = serving.nat_gateways, serving.desired_count
    vcpu, memory_gb = serving.cpu / 1024, serving.memory_mib / 1024
    nat_gb = requests * BYTES_THROUGH_NAT_PER_REQUEST / 1e9
    log_gb = requests * (LOG_BYTES_PER_REQUEST + FLOW_LOG_BYTES_PER_REQUEST) / 1e9
    retention_months = config.pipeline.log_retention_days / 30
    lcu = max(endpoint.canary.expected_requests_per_minute / 60 / LCU_REQUESTS_PER_SECOND, 0.0)
    invocations = MINUTES_PER_MONTH
    lines = (
        Line(
            f"SageMaker endpoint ({endpoint.instance_type})",
            f"{endpoint.instance_count} instances x {hours:.0f} h x {instance_prices[endpoint.instance_type]}",
            endpoint.instance_count * hours * instance_prices[endpoint.instance_type],
        ),
        Line(
            "NAT gateways",
            f"{nat_gateways} x {hours:.0f} h + {nat_gb:.1f} GB processed",
            nat_gateways * hours * table["nat_gateway_hour"] + nat_gb * table["nat_gateway_gb"],
        ),
        Line(
            "Application Load Balancer",
            f"{hours:.0f} h + {lcu:.2f} LCU",
            hours * (table["alb_hour"] + lcu * table["alb_lcu_hour"]),
        ),
        Line(
            "Fargate gateway tasks",
            f"{tasks} tasks x {vcpu:g} vCPU, {memory_gb:g} GB x {hours:.0f} h",
            tasks * hours * (vcpu * table["fargate_vcpu_hour"] + memory_gb * table["fargate_gb_hour"]),
        ),
        Line(
            "Lambda (canary analysis every minute)",
            f"{invocations} runs x {CANARY_LAMBDA_SECONDS:g} s x {CANARY_LAMBDA_GB:g} GB",
            invocations * CANARY_LAMBDA_SECONDS * CANARY_LAMBDA_GB * table["lambda_gb_second"]
            + invocations / 1e6 * table["lambda_million_requests"],
        ),
        Line(
            "CloudWatch Logs",
            f"{log_gb:.1f} GB ingested, kept {retention_months:.1f} months",
            log_gb * table["logs_ingested_gb"] + log_gb * retention_months * table["logs_stored_gb_month"],
        ),
        Line(
            "CloudWatch alarms, dashboard, metrics",
            f"{ALARMS} alarms, 1 dashboard, {CUSTOM_METRICS} custom metrics",
            ALARMS * table["cloudwatch_alarm_month"]
            + table["cloudwatch_dashboard_month"]
            + CUSTOM_METRICS * table["cloudwatch_custom_metric_month"],
        ),
        Line("KMS key", "1 key", float(table["kms_key_month"])),
    )
    return Estimate(env, table, lines)


def estimate_from_config(config: Mapping[str, Any], env: str) -> Estimate:
    """From the `context` of cdk.json."""
    environments = config.get("environments") or {}
    if env not in environments:
        raise ConfigError(f"environment {env!r} is not in cdk.json ({', '.join(environments) or 'none defined'})")
    raw = environments[env]
    return estimate(env, raw, PriceTable.load(load_environment(env, raw).region))
