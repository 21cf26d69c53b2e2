"""The deployment strategies: one module each, one registry. Everything that reads a strategy reads it here.

`STRATEGIES` maps cdk.json's `endpoint.strategy` values to the strategy (`base.DeploymentStrategy`): the settings
take their allowed values and step keys from it, deploy its UpdateEndpoint policy or experiment, the canary analysis
its comparison, the traffic shifter its experiment's steps, the rehearsal its schedule.
A new strategy is one new module registered below (see docs/architecture.md, "A new deployment strategy").
"""

from __future__ import annotations

from safedeploy.strategies.ab import AB_TEST
from safedeploy.strategies.all_at_once import ALL_AT_ONCE
from safedeploy.strategies.base import DeploymentStrategy, StepKeys
from safedeploy.strategies.canary import CANARY
from safedeploy.strategies.experiments import ExperimentStrategy
from safedeploy.strategies.linear import LINEAR
from safedeploy.strategies.rolling import ROLLING
from safedeploy.strategies.shadow import SHADOW

__all__ = ["STRATEGIES", "DeploymentStrategy", "comparisons", "experiment_strategies", "step_keys"]

STRATEGIES: dict[str, DeploymentStrategy] = {
    strategy.name: strategy for strategy in (CANARY, LINEAR, ALL_AT_ONCE, ROLLING, SHADOW, AB_TEST)
}


def step_keys() -> tuple[StepKeys, ...]:
    """The step keys of every strategy sized in capacity, in registry order."""
    return tuple(strategy.step for strategy in STRATEGIES.values() if strategy.step is not None)


def comparisons() -> tuple[str, ...]:
    """How records and verdict events name what the canary analysis compares, one name per kind of comparison."""
    named = (strategy.comparison for strategy in STRATEGIES.values())
    return tuple(dict.fromkeys(name for name in named if name is not None))


def experiment_strategies() -> dict[str, ExperimentStrategy]:
    """The strategies the traffic shifter moves, by the name of their comparison."""
    found = (strategy for strategy in STRATEGIES.values() if isinstance(strategy, ExperimentStrategy))
    return {strategy.comparison: strategy for strategy in found}
