"""How a release moves traffic under each deployment strategy, as the rehearsal replays it.

Guarded updates (canary, linear, rolling, all-at-once) are SageMaker's: each step gives the new fleet its whole
instances' share (`settings_share`) for `wait_interval_seconds`, and a blue/green update then bakes the full shift
for `termination_wait_seconds` (SageMaker's documented order; the waits are the ones `DeploymentSettings` budgets
the deployment timeout with). Shadow and A/B experiments are moved by the traffic shifter on verified verdicts, so
they have no schedule here: the rehearsal reads the endpoint's weights every minute instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from safedeploy.guardrails.settings import (
    MAX_EXECUTION_TIMEOUT_SECONDS,
    PLANNED_BAKES,
    STEP_KEYS,
    DeploymentSettings,
    Strategy,
)
from safedeploy.guardrails.traffic_share import settings_share

# What `--strategy` sets when the configured bake is "auto" and the strategy has none to plan.
UNPLANNED_BAKE_SECONDS = 600
# A bake of the new fleet alone compares nothing (only the fixed alarms watch it): the replay plays at most this much.
FULL_SHIFT_REPLAY_MINUTES = 10
# The slack `--strategy` keeps between the strategy's waits and `max_execution_timeout_seconds`.
TIMEOUT_SLACK_SECONDS = 600


@dataclass(frozen=True)
class Phase:
    minutes: int
    share: float  # the new fleet's share of requests


def guarded_phases(settings: DeploymentSettings) -> list[Phase]:
    """The steps of a guarded update, in simulated minutes; the last is the new fleet alone."""
    bake = max(1, settings.wait_interval_seconds // 60)
    final = [Phase(max(1, settings.termination_wait_seconds // 60), 1.0)]
    if settings.strategy is Strategy.ALL_AT_ONCE:
        return [Phase(bake, 1.0), *final]
    steps = settings_share(settings).steps
    if settings.strategy is Strategy.ROLLING:  # no termination wait: each batch bakes, the last one included
        return [Phase(bake, step) for step in steps]
    if settings.strategy is Strategy.CANARY:
        return [Phase(bake, steps[0]), *final]
    return [Phase(bake, step) for step in steps] + final  # linear: every step bakes, the full shift too


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
    if Strategy(strategy) not in PLANNED_BAKES and section.get("wait_interval_seconds", "auto") == "auto":
        section["wait_interval_seconds"] = UNPLANNED_BAKE_SECONDS
    # More steps wait longer than the configured strategy did: give the timeout what the waits need, within the cap.
    capped = DeploymentSettings.from_mapping(
        {**section, "max_execution_timeout_seconds": MAX_EXECUTION_TIMEOUT_SECONDS}
    )
    needed = min(MAX_EXECUTION_TIMEOUT_SECONDS, capped.total_waiting_seconds()[0] + TIMEOUT_SLACK_SECONDS)
    section["max_execution_timeout_seconds"] = max(section.get("max_execution_timeout_seconds", 0), needed)
    return section


def _foreign_step_key(key: str, strategy: str) -> bool:
    """A key that sizes another strategy's step (the settings refuse it beside this strategy)."""
    return any(key in keys[:2] for name, keys in STEP_KEYS.items() if name != strategy)
