"""How a release moves traffic under each deployment strategy, as the rehearsal replays it.

Guarded updates (canary, linear, rolling, all-at-once) are SageMaker's: each step gives the new fleet its whole
instances' share for `wait_interval_seconds`; a blue/green update then has its final baking period at the full shift
(a canary's is a bake of its own; a linear update's last step and an all-at-once update's only bake are it), budgeted
as `wait_interval_seconds`, and waits `termination_wait_seconds` after it (SageMaker's documented order). Each
strategy states these waits once (its `schedule`), which also budgets the deployment timeout.
Shadow and A/B experiments are moved by the traffic shifter on verified verdicts, so they have no schedule here: the
rehearsal reads the endpoint's weights every minute instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from safedeploy.guardrails.settings import DeploymentSettings
from safedeploy.strategies import STRATEGIES, step_keys

# What `--strategy` sets when the configured bake is "auto" and the strategy has none to plan.
UNPLANNED_BAKE_SECONDS = 600
# A bake of the new fleet alone compares nothing (only the fixed alarms watch it): the replay plays at most this much.
FULL_SHIFT_REPLAY_MINUTES = 10


@dataclass(frozen=True)
class Phase:
    minutes: int
    share: float  # the new fleet's share of requests


def guarded_phases(settings: DeploymentSettings) -> list[Phase]:
    """The steps of a guarded update, in simulated minutes; the last is the new fleet alone."""
    return [Phase(max(1, bake.seconds // 60), bake.share) for bake in settings.strategy.schedule(settings)]


def replayed_minutes(phases: list[Phase]) -> list[int]:
    """The minutes of a guarded update the rehearsal plays: every step, and at most FULL_SHIFT_REPLAY_MINUTES of
    each bake at 100 % (nothing is compared there; the 5xx and latency alarms keep watching)."""
    minutes, start = [], 0
    for phase in phases:
        length = min(phase.minutes, FULL_SHIFT_REPLAY_MINUTES) if phase.share >= 1 else phase.minutes
        minutes += range(start, start + length)
        start += phase.minutes
    return minutes


def share_at(phases: list[Phase], minute: int) -> float:
    """The new fleet's share of requests at `minute` of the update."""
    for phase in phases:
        if minute < phase.minutes:
            return phase.share
        minute -= phase.minutes
    return 1.0


def with_strategy(endpoint: dict[str, Any], strategy: str) -> dict[str, Any]:
    """The `endpoint` section of cdk.json with another strategy, and only the keys that strategy accepts."""
    section = {key: value for key, value in endpoint.items() if not _foreign_step_key(key, strategy)}
    section["strategy"] = strategy
    if STRATEGIES[strategy].step is None and section.get("wait_interval_seconds", "auto") == "auto":
        section["wait_interval_seconds"] = UNPLANNED_BAKE_SECONDS
    # More steps wait longer than the configured strategy did: the timeout is derived from this strategy's waits.
    section["max_execution_timeout_seconds"] = "auto"
    return section


def _foreign_step_key(key: str, strategy: str) -> bool:
    """A key that sizes another strategy's step (the settings refuse it beside this strategy)."""
    own = STRATEGIES[strategy].step
    return any(key in (step.percent, step.instances) for step in step_keys() if step != own)
