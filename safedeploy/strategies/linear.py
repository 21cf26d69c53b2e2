"""Linear (blue/green): equal steps of whole instances, each baking in turn; the last step's bake is the final bake.
Its step is `linear_step_percent` or `linear_step_instances`, 10-50 % of the fleet (TrafficRoutingConfig
LinearStepSize)."""

from __future__ import annotations

from typing import Any

from safedeploy.guardrails.traffic_share import TrafficShare
from safedeploy.strategies import base


class Linear(base.BlueGreen):
    name = "linear"
    step = base.StepKeys("linear_step_percent", "linear_step_instances", 10, 50)
    bakes = "steps (the last one the final bake)"

    def share(self, settings: base.RolloutSettings) -> TrafficShare:
        return base.capacity_share(self.name, self.step, settings)

    def schedule(self, settings: base.RolloutSettings) -> tuple[base.Bake, ...]:
        bakes = (base.Bake(settings.wait_interval_seconds, step) for step in self.share(settings).steps)
        return (*bakes, base.Bake(settings.termination_wait_seconds, 1.0))

    def routing(self, settings: base.RolloutSettings) -> dict[str, Any]:
        return {"Type": "LINEAR", "LinearStepSize": base.capacity_size(*settings.step_size(self.step))}


LINEAR = Linear()
