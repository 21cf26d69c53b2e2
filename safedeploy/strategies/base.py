"""What a deployment strategy provides (`DeploymentStrategy`), and the parts the strategies of this package share.

A strategy reads an environment's `endpoint` settings through `RolloutSettings`, the few fields it needs, so this
package imports nothing of `guardrails.settings`: the settings import the registry, not the other way round.
Pure Python, no boto3: synth validates `cdk.json` with it.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from safedeploy.guardrails.traffic_share import (
    CAPACITY_PERCENT,
    TrafficShare,
    capacity_instances,
    step_capacity,
)

# A step in whole instances is 1-50 instances before SageMaker's band (a share of `instance_count`) applies.
MAX_STEP_INSTANCES = 50
# How records and verdict events name the comparison of a guarded update's old and new fleet, told apart by their
# EndpointConfigName (the variant name is shared).
FLEETS_BY_CONFIG = "blue_green"


@dataclass(frozen=True)
class StepKeys:
    """The two `endpoint` keys that size a strategy's step, percent or instances, and SageMaker's band for it in
    percent of the instance count (TrafficRoutingConfig, RollingUpdatePolicy)."""

    percent: str
    instances: str
    low: int
    high: int


@dataclass(frozen=True)
class Bake:
    """One wait of a guarded update, in SageMaker's order: its length and the new fleet's share of requests."""

    seconds: int
    share: float


class RolloutSettings(Protocol):
    """What a strategy reads of an environment's `endpoint` settings (`DeploymentSettings` provides it)."""

    @property
    def instance_count(self) -> int: ...
    @property
    def wait_interval_seconds(self) -> int: ...
    @property
    def termination_wait_seconds(self) -> int: ...
    @property
    def max_execution_timeout_seconds(self) -> int: ...
    @property
    def rollback_batch_percent(self) -> int: ...
    @property
    def ab_weights(self) -> tuple[int, ...]: ...
    @property
    def shadow_sampling_percent(self) -> int: ...
    def step_size(self, step: StepKeys) -> tuple[int | None, int | None]:
        """The (percent, instances) the settings give for `step`'s keys, each None when absent."""
        ...


@runtime_checkable  # the settings' `strategy` field holds one, and pydantic checks it with isinstance
class DeploymentStrategy(Protocol):
    """One value of `cdk.json`'s `endpoint.strategy`, and everything that value decides.

    `step`: the keys sizing its step in capacity (None when its traffic is not whole instances); a strategy with a
    step bakes with a baseline fleet beside it, so its bake is planned (`wait_interval_seconds: "auto"`) and its
    fleet needs 2 instances. `guardrails`: carried out by UpdateEndpoint's deployment guardrails, so the instance
    family, the timeout and the rollback alarms apply; its `update_policy` is the DeploymentConfig's policy (an
    experiment instead is an `experiments.ExperimentStrategy`, moved by the traffic shifter). `comparison`: what the
    canary analysis compares, as records and verdict events name it (None: no concurrent baseline); `copies`: the
    candidate receives copies of requests and answers nobody (a shadow).
    """

    name: str
    step: StepKeys | None
    guardrails: bool
    copies: bool

    @property
    def comparison(self) -> str | None: ...

    def share(self, settings: RolloutSettings) -> TrafficShare:
        """The candidate's real share of requests at each step on this fleet."""
        ...

    def schedule(self, settings: RolloutSettings) -> tuple[Bake, ...]:
        """SageMaker's waits, in order (empty where the traffic shifter moves traffic on verdicts instead)."""
        ...

    def waiting(self, settings: RolloutSettings) -> tuple[int, str]:
        """The schedule's total, which SageMaker's timeout must exceed, and how it adds up."""
        ...

    def update_policy(self, settings: RolloutSettings) -> dict[str, Any] | None:
        """UpdateEndpoint's DeploymentConfig without its AutoRollbackConfiguration; None for an experiment."""
        ...


def capacity_size(percent: int | None, instances: int | None) -> dict[str, Any]:
    """A step's `CapacitySize`: CAPACITY_PERCENT for a `*_percent` key, INSTANCE_COUNT otherwise."""
    capacity_type, value = step_capacity(percent, instances)
    return {"Type": capacity_type, "Value": value}


def capacity_share(name: str, step: StepKeys, settings: RolloutSettings) -> TrafficShare:
    """The share at each step of whole instances: every step adds the step's instances until the fleet is full."""
    count = settings.instance_count
    capacity_type, value = step_capacity(*settings.step_size(step))
    instances = capacity_instances(capacity_type, value, count)
    intended = value / 100 if capacity_type == CAPACITY_PERCENT else instances / count
    steps = tuple(min(1.0, (index + 1) * instances / count) for index in range(math.ceil(count / instances)))
    return TrafficShare(name, count, intended, steps, step_instances=instances, capacity_type=capacity_type)


def total(schedule: Sequence[Bake]) -> int:
    return sum(bake.seconds for bake in schedule)


class BlueGreen(ABC):
    """What SageMaker's blue/green updates share: their `routing` (Type and step size) in a BlueGreenUpdatePolicy, and
    a schedule that ends with the final bake at the full shift, then TerminationWaitInSeconds (SageMaker's canary,
    linear and all-at-once pages; the final bake's length is not documented: it is budgeted as one
    wait_interval_seconds, the longest it plausibly is)."""

    guardrails = True
    copies = False
    comparison: str | None = FLEETS_BY_CONFIG
    bakes = "bakes"  # how `waiting` names the schedule's bakes

    @abstractmethod
    def routing(self, settings: RolloutSettings) -> dict[str, Any]:
        """The TrafficRoutingConfiguration's Type and step size (and its bake, to wait other than the settings')."""

    @abstractmethod
    def schedule(self, settings: RolloutSettings) -> tuple[Bake, ...]:
        """SageMaker's waits, the final bake and the termination wait last."""

    def waiting(self, settings: RolloutSettings) -> tuple[int, str]:
        schedule = self.schedule(settings)
        explanation = (
            f"{len(schedule) - 1} {self.bakes} x wait_interval_seconds {settings.wait_interval_seconds} + "
            f"termination_wait_seconds {settings.termination_wait_seconds}"
        )
        return total(schedule), explanation

    def update_policy(self, settings: RolloutSettings) -> dict[str, Any]:
        routing = {"WaitIntervalInSeconds": settings.wait_interval_seconds, **self.routing(settings)}
        return {
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": routing,
                "TerminationWaitInSeconds": settings.termination_wait_seconds,
                "MaximumExecutionTimeoutInSeconds": settings.max_execution_timeout_seconds,
            }
        }
