"""The rehearsal's replay of each strategy: the steps SageMaker takes, and a cdk.json section for any strategy."""

from __future__ import annotations

import pytest

from rehearsal.rollout import (
    FULL_SHIFT_REPLAY_MINUTES,
    Phase,
    guarded_phases,
    replayed_minutes,
    share_at,
    with_strategy,
)
from safedeploy.guardrails.settings import DeploymentSettings
from safedeploy.strategies import STRATEGIES
from tests.support.configuration import two_environments

DEV = two_environments()["environments"]["dev"]["endpoint"]


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_dev_can_be_rehearsed_with_every_strategy(strategy: str) -> None:
    """The section `--strategy` builds validates: other strategies' step keys dropped, a bake where none is planned,
    and a timeout the strategy's waits fit in."""
    settings = DeploymentSettings.from_mapping(with_strategy(DEV, strategy))
    assert settings.strategy.name == strategy
    if settings.strategy.guardrails:
        assert settings.max_execution_timeout_seconds > settings.total_waiting_seconds()[0]


def test_the_guarded_steps_follow_sagemaker_and_the_fleet() -> None:
    """dev: 2 instances, one per step = 50 %; the bake is the plan's; after the full shift comes the final baking
    period (a canary's own bake of wait_interval_seconds), then termination_wait."""
    by_strategy = {
        s: guarded_phases(DeploymentSettings.from_mapping(with_strategy(DEV, s)))
        for s in ("canary", "linear", "rolling", "all_at_once")
    }
    canary = DeploymentSettings.from_mapping(DEV)
    bake, final = canary.wait_interval_seconds // 60, canary.termination_wait_seconds // 60
    assert by_strategy["canary"] == [Phase(bake, 0.5), Phase(bake, 1.0), Phase(final, 1.0)]
    assert by_strategy["linear"] == [Phase(bake, 0.5), Phase(bake, 1.0), Phase(final, 1.0)]
    assert by_strategy["rolling"] == [Phase(bake, 0.5), Phase(bake, 1.0)]
    assert by_strategy["all_at_once"] == [Phase(10, 1.0), Phase(final, 1.0)]


def test_the_replay_keeps_every_comparing_minute_and_shortens_the_full_shift() -> None:
    phases = [Phase(30, 0.5), Phase(40, 1.0)]
    minutes = replayed_minutes(phases)
    assert minutes == list(range(30 + FULL_SHIFT_REPLAY_MINUTES))
    assert [share_at(phases, m) for m in (0, 29, 30, 69, 70)] == [0.5, 0.5, 1.0, 1.0, 1.0]
