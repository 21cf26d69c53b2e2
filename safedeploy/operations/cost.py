"""A monthly estimate of what one environment costs while it runs, from its configuration and a dated price table.

What is priced is what runs around the clock whether or not anyone deploys: the endpoint's instances, the NAT
gateways, the gateway's interface VPC endpoints (per availability zone), the load balancer and its web ACL, the
gateway's Fargate tasks, the canary-analysis Lambda (every minute), CloudWatch logs, alarms, dashboard and custom
metrics, the KMS keys and the signing-key secret. Traffic-driven lines (endpoint data, load balancer capacity units,
WAF requests, log volume) use the configured `expected_requests_per_minute`. Builds (CodeBuild minutes, training),
S3 storage and the DynamoDB tables (on demand: billed per request, almost all absorbed by the gateway's key cache)
depend on how often people push or call and are left out; the output says so. The counts of each resource are the
stacks' (tests/unit/stacks/test_cost_counts.py compares them with the synthesized templates). A region without a
price table gets the quantities and says it cannot price them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from safedeploy.environment_config import load_environment
from safedeploy.errors import ConfigError

MINUTES_PER_MONTH = 30 * 24 * 60
# Usage assumptions per request, stated in the output so they can be argued with.
BYTES_THROUGH_ENDPOINTS_PER_REQUEST = 4_000  # the gateway's SageMaker runtime call and its answer (interface endpoint)
LOG_BYTES_PER_REQUEST = 600  # one access-log line and one metrics line
FLOW_LOG_BYTES_PER_REQUEST = 300
CANARY_LAMBDA_SECONDS = 2.0
CANARY_LAMBDA_GB = 1.0  # memory_size 1024 in the guardrails stack
CUSTOM_METRICS = 12  # gateway per-variant latency, errors, accuracy; the canary verdict and statistics
LCU_REQUESTS_PER_SECOND = 25.0  # an LCU covers 25 new connections per second (one request per connection, worst case)
# What the stacks create per environment (checked against the synthesized templates by the stack tests).
ALARMS = 5  # endpoint 5xx and latency, the canary verdict, gateway 5xx and unhealthy hosts
INTERFACE_ENDPOINTS = 6  # SageMaker runtime and API, Logs, ECR API and Docker, Secrets Manager
AVAILABILITY_ZONES = 2  # each interface endpoint is billed in every zone it serves
KMS_KEYS = 6  # data, gateway tables, and the log-group keys of the pipeline, guardrails, drift and serving stacks
WAF_RULES = 3  # the rate limit and two AWS managed rule groups
SECRETS = 1  # the prediction-id signing key


@dataclass(frozen=True)
class PriceTable:
    region: str
    as_of: str
    source: str
    currency: str
    prices: Mapping[str, Any]

    @classmethod
    def load(cls, region: str) -> PriceTable:
        """The region's table; one with no prices (`priced` False) when the project has none for it."""
        try:
            text = resources.files("safedeploy.operations.prices").joinpath(f"{region}.json").read_text()
        except FileNotFoundError:
            return cls(region, "", "", "", {})
        data = json.loads(text)
        return cls(data["region"], data["as_of"], data["source"], data["currency"], data)

    @property
    def priced(self) -> bool:
        return bool(self.prices)

    @staticmethod
    def available() -> list[str]:
        folder = resources.files("safedeploy.operations.prices")
        return sorted(path.name.removesuffix(".json") for path in folder.iterdir() if path.name.endswith(".json"))

    def __getitem__(self, key: str) -> Any:
        return self.prices[key]


@dataclass(frozen=True)
class Line:
    item: str
    quantity: str
    monthly: float | None  # None without a price table for the region


@dataclass(frozen=True)
class Estimate:
    env: str
    table: PriceTable
    lines: tuple[Line, ...]

    @property
    def total(self) -> float | None:
        return sum(line.monthly or 0.0 for line in self.lines) if self.table.priced else None

    def render(self) -> str:
        width = max(len(line.item) for line in self.lines)
        rows = [
            f"  {line.item:<{width}}  {'-' if line.monthly is None else f'{line.monthly:.2f}':>9}  {line.quantity}"
            for line in self.lines
        ]
        if self.total is None:
            head = (
                f"environment {self.env}: no price table for {self.table.region} (tables: "
                f"{', '.join(PriceTable.available())}); what runs, unpriced:"
            )
            tail = [f"prices: none for {self.table.region}; price these lines with the AWS Pricing Calculator"]
        else:
            head = f"environment {self.env}: about {self.total:,.0f} {self.table.currency} per month while it runs"
            tail = [
                f"  {'total':<{width}}  {self.total:>9.2f}",
                f"prices: {self.table.region}, as of {self.table.as_of} ({self.table.source})",
            ]
        return "\n".join(
            [
                head,
                *rows,
                *tail,
                "not included: CodeBuild minutes, CodePipeline action minutes and training jobs per release, S3 "
                "storage and requests, DynamoDB requests (on demand), data transfer to the internet",
            ]
        )


def estimate(env: str, raw: Mapping[str, Any], table: PriceTable) -> Estimate:
    """`raw`: the environment's entry of cdk.json `environments`, read with synth's models (defaults included)."""
    config = load_environment(env, raw)
    endpoint, serving = config.endpoint, config.serving
    hours = float(table.prices.get("hours_per_month", 730))
    instance_prices = table.prices.get("sagemaker_instance_hour", {})
    if table.priced and endpoint.instance_type not in instance_prices:
        raise ConfigError(
            f"environments.{env}.endpoint.instance_type: no {table.region} price for {endpoint.instance_type} in the "
            f"table of {table.as_of} (priced: {', '.join(sorted(instance_prices))})"
        )
    requests = endpoint.canary.expected_requests_per_minute * MINUTES_PER_MONTH
    nat_gateways, tasks, instances = serving.nat_gateways, serving.desired_count, endpoint.instance_count
    vcpu, memory_gb = serving.cpu / 1024, serving.memory_mib / 1024
    endpoint_gb = requests * BYTES_THROUGH_ENDPOINTS_PER_REQUEST / 1e9
    log_gb = requests * (LOG_BYTES_PER_REQUEST + FLOW_LOG_BYTES_PER_REQUEST) / 1e9
    retention_months = config.pipeline.log_retention_days / 30
    lcu = max(endpoint.canary.expected_requests_per_minute / 60 / LCU_REQUESTS_PER_SECOND, 0.0)
    invocations = MINUTES_PER_MONTH
    zone_hours = INTERFACE_ENDPOINTS * AVAILABILITY_ZONES * hours
    lines: list[tuple[str, str, Callable[[PriceTable], float]]] = [
        (
            f"SageMaker endpoint ({endpoint.instance_type})",
            f"{instances} instances x {hours:.0f} h",
            lambda t: instances * hours * t["sagemaker_instance_hour"][endpoint.instance_type],
        ),
        ("NAT gateways", f"{nat_gateways} x {hours:.0f} h", lambda t: nat_gateways * hours * t["nat_gateway_hour"]),
        (
            "VPC interface endpoints",
            f"{INTERFACE_ENDPOINTS} endpoints x {AVAILABILITY_ZONES} zones x {hours:.0f} h + {endpoint_gb:.1f} GB",
            lambda t: zone_hours * t["vpc_endpoint_zone_hour"] + endpoint_gb * t["vpc_endpoint_gb"],
        ),
        (
            "Application Load Balancer",
            f"{hours:.0f} h + {lcu:.2f} LCU",
            lambda t: hours * (t["alb_hour"] + lcu * t["alb_lcu_hour"]),
        ),
        (
            "AWS WAF web ACL",
            f"1 web ACL, {WAF_RULES} rules, {requests / 1e6:.1f} M requests",
            lambda t: (
                t["waf_web_acl_month"] + WAF_RULES * t["waf_rule_month"] + requests / 1e6 * t["waf_million_requests"]
            ),
        ),
        (
            "Fargate gateway tasks",
            f"{tasks} tasks x {vcpu:g} vCPU, {memory_gb:g} GB x {hours:.0f} h",
            lambda t: tasks * hours * (vcpu * t["fargate_vcpu_hour"] + memory_gb * t["fargate_gb_hour"]),
        ),
        (
            "Lambda (canary analysis every minute)",
            f"{invocations} runs x {CANARY_LAMBDA_SECONDS:g} s x {CANARY_LAMBDA_GB:g} GB",
            lambda t: (
                invocations * CANARY_LAMBDA_SECONDS * CANARY_LAMBDA_GB * t["lambda_gb_second"]
                + invocations / 1e6 * t["lambda_million_requests"]
            ),
        ),
        (
            "CloudWatch Logs",
            f"{log_gb:.1f} GB ingested, kept {retention_months:.1f} months",
            lambda t: log_gb * t["logs_ingested_gb"] + log_gb * retention_months * t["logs_stored_gb_month"],
        ),
        (
            "CloudWatch alarms, dashboard, metrics",
            f"{ALARMS} alarms, 1 dashboard, {CUSTOM_METRICS} custom metrics",
            lambda t: (
                ALARMS * t["cloudwatch_alarm_month"]
                + t["cloudwatch_dashboard_month"]
                + CUSTOM_METRICS * t["cloudwatch_custom_metric_month"]
            ),
        ),
        ("KMS keys", f"{KMS_KEYS} keys", lambda t: KMS_KEYS * t["kms_key_month"]),
        ("Secrets Manager", f"{SECRETS} secret", lambda t: SECRETS * t["secret_month"]),
    ]
    priced = [Line(item, quantity, cost(table) if table.priced else None) for item, quantity, cost in lines]
    return Estimate(env, table, tuple(priced))


def estimate_from_config(config: Mapping[str, Any], env: str) -> Estimate:
    """From the `context` of cdk.json."""
    environments = config.get("environments") or {}
    if env not in environments:
        raise ConfigError(f"environment {env!r} is not in cdk.json ({', '.join(environments) or 'none defined'})")
    raw = environments[env]
    return estimate(env, raw, PriceTable.load(load_environment(env, raw).region))
