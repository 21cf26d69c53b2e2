"""Rolling: the fleet is replaced in batches of whole instances, each baking in turn, the last one included; there
is no termination wait. Its batch is `rolling_batch_percent` or `rolling_batch_instances`, 5-50 % of the fleet
(RollingUpdatePolicy MaximumBatchSize); a rollback moves `rollback_batch_percent` at a time."""

from __future__ import annotations

from typing import Any

from safedeploy.guardrails.traffic_share import CAPACITY_PERCENT, TrafficShare
from safedeploy.strategies import base


class Rolling:
    name = "rolling"
    step = base.StepKeys("rolling_batch_percent", "rolling_batch_instances", 5, 50)
    guardrails = True
    copies = False
    comparison = base.FLEETS_BY_CONFIG

    def share(self, settings: base.RolloutSettings) -> TrafficShare:
        return base.capacity_share(self.name, self.step, settings)

    def schedule(self, settings: base.RolloutSettings) -> tuple[base.Bake, ...]:
        return tuple(base.Bake(settings.wait_interval_seconds, step) for step in self.share(settings).steps)

    def waiting(self, settings: base.RolloutSettings) -> tuple[int, str]:
        schedule = self.schedule(settings)
        return base.total(schedule), f"{len(schedule)} batches x wait_interval_seconds {settings.wait_interval_seconds}"

    def update_policy(self, settings: base.RolloutSettings) -> dict[str, Any]:
        return {
            "RollingUpdatePolicy": {
                "MaximumBatchSize": base.capacity_size(*settings.step_size(self.step)),
                "WaitIntervalInSeconds": settings.wait_interval_seconds,
                "MaximumExecutionTimeoutInSeconds": settings.max_execution_timeout_seconds,
                "RollbackMaximumBatchSize": {"Type": CAPACITY_PERCENT, "Value": settings.rollback_batch_percent},
            }
        }


ROLLING = Rolling()
