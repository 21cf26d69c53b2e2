"""Canary (blue/green): one step of whole instances bakes beside the old fleet, then all traffic shifts at once and
the final bake follows. Its step is `canary_size_percent` or `canary_size_instances`, 1-50 % of the fleet
(TrafficRoutingConfig CanarySize)."""

from __future__ import annotations

import dataclasses
from typing import Any

from safedeploy.guardrails.traffic_share import TrafficShare
from safedeploy.strategies import base


class Canary(base.BlueGreen):
    name = "canary"
    step = base.StepKeys("canary_size_percent", "canary_size_instances", 1, 50)
    bakes = "bakes (the canary, then the final bake)"

    def share(self, settings: base.RolloutSettings) -> TrafficShare:
        share = base.capacity_share(self.name, self.step, settings)
        return dataclasses.replace(share, steps=(share.first, 1.0) if share.first < 1 else (1.0,))

    def schedule(self, settings: base.RolloutSettings) -> tuple[base.Bake, ...]:
        wait, first = settings.wait_interval_seconds, self.share(settings).first
        return base.Bake(wait, first), base.Bake(wait, 1.0), base.Bake(settings.termination_wait_seconds, 1.0)

    def routing(self, settings: base.RolloutSettings) -> dict[str, Any]:
        return {"Type": "CANARY", "CanarySize": base.capacity_size(*settings.step_size(self.step))}


CANARY = Canary()
