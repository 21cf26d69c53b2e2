"""The scratch environment the suite deploys: a copy of one environment of cdk.json, made minimal and disposable.

It keeps the base environment's project, model, region, alarms and canary settings, and changes only what makes the
run short and cheap and what the assertions need: the smallest instance type the model package lists, two instances
(a canary needs a second one), a 5-minute bake, autoscaling up to one more instance (to see whether a guarded update
keeps a scaled-out count), a one-day Object Lock (to see what its writers leave), and nothing retained or protected.
Only the stacks the release path needs are deployed (storage, pipeline, guardrails): the serving stack's NAT gateway,
load balancer and Fargate tasks are not (the suite sends its own requests to the endpoint).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from safedeploy.environment_config import PRODUCTION
from safedeploy.naming import Naming
from safedeploy.operations.cost import PriceTable
from safedeploy.registry import DEFAULT_INSTANCE_TYPES

# The stacks a release needs, in deploy order; `cdk deploy` adds their dependencies itself.
STACKS = ("storage", "pipeline", "guardrails")
BAKE_SECONDS = 300
TERMINATION_WAIT_SECONDS = 60
MAX_EXECUTION_TIMEOUT_SECONDS = 1800
LOCK_DAYS = 1
REQUESTS_PER_MINUTE = 60


def smallest_instance_type(table: PriceTable) -> str:
    """The cheapest instance type that a registered package lists for real-time inference and that has a price."""
    priced = table["sagemaker_instance_hour"]
    listed = [instance for instance in DEFAULT_INSTANCE_TYPES if instance in priced]
    if not listed:
        raise ValueError(f"no price in {table.region} for any of {', '.join(DEFAULT_INSTANCE_TYPES)}")
    return min(listed, key=lambda instance: priced[instance])


@dataclass(frozen=True)
class ScratchPlan:
    project: str
    env: str
    base: str
    context: Mapping[str, Any]  # cdk.json's context with only the scratch environment

    @property
    def raw(self) -> Mapping[str, Any]:
        return self.context["environments"][self.env]

    @property
    def region(self) -> str:
        return str(self.raw.get("region", "ap-northeast-2"))

    def stack_ids(self) -> list[str]:
        """`cdk deploy` selectors of the stacks the suite deploys (the Stage is `<project>-<env>`)."""
        prefix = Naming(self.project, self.env).prefix
        return [f"{prefix}/{stack}" for stack in STACKS]


def scratch_plan(context: Mapping[str, Any], env: str, base: str = "dev") -> ScratchPlan:
    """`context`: cdk.json's. Refuses a name cdk.json already uses, so the suite never deploys or deletes a real
    environment's stacks."""
    environments = context.get("environments") or {}
    if env == PRODUCTION or env in environments:
        raise ValueError(
            f"ENV={env}: the suite deploys and then deletes its own copy; name a scratch environment that cdk.json "
            f"does not define (defined: {', '.join(environments)})"
        )
    if base not in environments:
        raise ValueError(f"FROM={base}: not an environment of cdk.json ({', '.join(environments)})")
    raw = copy.deepcopy(dict(environments[base]))
    raw.pop("promotes_to", None)
    region = raw.get("region", "ap-northeast-2")
    endpoint = dict(raw.get("endpoint", {}))
    count = 2
    endpoint.update(
        instance_type=smallest_instance_type(PriceTable.load(region)),
        instance_count=count,
        strategy="canary",
        canary_size_instances=1,
        wait_interval_seconds=BAKE_SECONDS,
        termination_wait_seconds=TERMINATION_WAIT_SECONDS,
        max_execution_timeout_seconds=MAX_EXECUTION_TIMEOUT_SECONDS,
        canary={
            **endpoint.get("canary", {}),
            "expected_requests_per_minute": REQUESTS_PER_MINUTE,
            "require_power": False,  # a 5-minute bake cannot reach the configured power; the run tests AWS, not stats
        },
        autoscaling={**endpoint.get("autoscaling", {}), "enabled": True, "min_instances": count, "max_instances": 3},
    )
    for key in ("canary_size_percent", "linear_step_percent", "linear_step_instances"):
        endpoint.pop(key, None)
    raw.update(
        endpoint=endpoint,
        removal_policy="destroy",
        termination_protection=False,
        artifact_lock_days=LOCK_DAYS,
        pipeline={**raw.get("pipeline", {}), "log_retention_days": 1},
    )
    project = str(context.get("project", "my-mlops"))
    return ScratchPlan(project, env, base, {**context, "environments": {env: raw}})
