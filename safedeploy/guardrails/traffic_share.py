"""The candidate's real share of traffic (`TrafficShare`) and the capacity arithmetic each strategy computes it with.

SageMaker sizes blue/green canaries, linear steps and rolling batches as *capacity* (`CapacitySize`: a number of
instances, or a percentage of the variant's instance count), so on a small fleet a "10 %" canary is a whole instance:
half the traffic on 2 instances, a third on 3. The share follows the instances that serve, not the percentage asked
for. A/B traffic follows the variant weights (each variant gets its weight over the sum of weights); a shadow variant
receives a copy of the sampled share of requests while production keeps serving all of them.

How SageMaker rounds a percentage to whole instances is not documented. This module takes the fraction rounded
down, at least one instance: the only rule under which every size the API accepts (canary <= 50 %, linear step
10-50 %, rolling batch 5-50 % of the instance count) stays within those documented limits. The canary analysis does
not rely on it: it measures the share from the fleets' Invocations and checks it against this plan.

Each step is given in percent (sent as CAPACITY_PERCENT) or in instances (INSTANCE_COUNT, one instance by default),
as in the `endpoint` settings. Each strategy (`safedeploy.strategies`) computes its share from these; for planning,
`settings.traffic_share().first` is the candidate's share of requests during the first bake, `steps` the share at
every step.

Pure Python, no boto3: synth imports it (to print and check the shares) and so does bake planning.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "CAPACITY_PERCENT",
    "CAPACITY_TYPES",
    "INSTANCE_COUNT",
    "TrafficShare",
    "capacity_instances",
    "instances_text",
    "step_capacity",
    "weight_share",
]

CAPACITY_PERCENT = "CAPACITY_PERCENT"
INSTANCE_COUNT = "INSTANCE_COUNT"
CAPACITY_TYPES = (CAPACITY_PERCENT, INSTANCE_COUNT)


def capacity_instances(capacity_type: str, value: int, instance_count: int) -> int:
    """Instances a `CapacitySize` of `capacity_type`/`value` turns on in a fleet of `instance_count`."""
    if instance_count < 1 or value < 1:
        raise ValueError(f"capacity {capacity_type} {value} of {instance_count} instances: both must be >= 1")
    if capacity_type == INSTANCE_COUNT:
        return min(value, instance_count)
    if capacity_type != CAPACITY_PERCENT:
        raise ValueError(f"capacity type {capacity_type!r} is not one of {', '.join(CAPACITY_TYPES)}")
    return min(instance_count, max(1, math.floor(value * instance_count / 100)))


def instances_text(count: int) -> str:
    return f"{count} instance" if count == 1 else f"{count} instances"


def weight_share(candidate_weight: float, baseline_weight: float) -> float:
    """A production variant's share of requests: its weight over the sum of the variants' weights."""
    total = candidate_weight + baseline_weight
    return candidate_weight / total if total > 0 else 0.0


@dataclass(frozen=True)
class TrafficShare:
    """Where the candidate's traffic comes from during one deployment.

    `intended` is the share the settings ask for; `steps` the candidate's real share of requests at each step
    (a rollout's last step is 1.0), and `first` the one the first bake judges. `step_instances` is the candidate's
    instances per step for capacity-sized strategies (None for A/B and shadow), and `capacity_type` how the request
    sizes it. For shadow, `copy` is True: the shares are copies of requests the production variant also serves.
    """

    strategy: str
    instance_count: int
    intended: float
    steps: tuple[float, ...]
    step_instances: int | None = None
    copy: bool = False
    capacity_type: str | None = None

    @property
    def first(self) -> float:
        return self.steps[0]

    @property
    def ratio(self) -> float:
        """How many times the intended share the first step really is (1.0 when sizes divide the fleet evenly)."""
        return self.first / self.intended

    @property
    def observed_fraction(self) -> float:
        """The candidate's expected fraction of both fleets' Invocations in the first step (what SRM tests)."""
        return self.first / (1 + self.first) if self.copy else self.first

    def describe(self) -> str:
        """One line for synth and the operator: `canary: 1 of 2 instances = 50.0 % of traffic (asked 10 %)`."""
        asked = f"asked {100 * self.intended:g} %"
        if self.capacity_type == INSTANCE_COUNT:
            asked = f"asked {instances_text(self.step_instances or 0)}"
        if self.copy:
            return f"{self.strategy}: a copy of {100 * self.first:g} % of requests ({asked})"
        if self.step_instances is None:
            return f"{self.strategy}: {100 * self.first:g} % of traffic at the first weight ({asked})"
        return (
            f"{self.strategy}: {self.step_instances} of {self.instance_count} instances per step = "
            f"{100 * self.first:.1f} % of traffic in the first bake ({asked}; steps "
            + ", ".join(f"{100 * step:.0f}" for step in self.steps)
            + " %)"
        )


def step_capacity(percent: int | None, instances: int | None) -> tuple[str, int]:
    """The `CapacitySize` (type, value) of a step given as a percentage or as instances; one instance by default."""
    if percent is not None and instances is not None:
        raise ValueError("a step is sized in percent or in instances, not both")
    return (CAPACITY_PERCENT, percent) if percent is not None else (INSTANCE_COUNT, instances or 1)
