"""All at once (blue/green): every request moves to the new fleet at once, which bakes alone (its only bake is the
final bake) under the rollback alarms: there is no concurrent baseline for the canary analysis to compare."""

from __future__ import annotations

from typing import Any

from safedeploy.guardrails.traffic_share import TrafficShare
from safedeploy.strategies import base


class AllAtOnce(base.BlueGreen):
    name = "all_at_once"
    step: base.StepKeys | None = None
    comparison = None  # the new fleet serves alone: the 5xx and latency alarms guard it
    bakes = "bake (the final bake)"

    def share(self, settings: base.RolloutSettings) -> TrafficShare:
        count = settings.instance_count
        return TrafficShare(self.name, count, 1.0, (1.0,), step_instances=count)

    def schedule(self, settings: base.RolloutSettings) -> tuple[base.Bake, ...]:
        return base.Bake(settings.wait_interval_seconds, 1.0), base.Bake(settings.termination_wait_seconds, 1.0)

    def routing(self, settings: base.RolloutSettings) -> dict[str, Any]:
        return {"Type": "ALL_AT_ONCE"}


ALL_AT_ONCE = AllAtOnce()
