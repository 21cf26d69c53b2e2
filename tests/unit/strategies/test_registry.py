"""Every registered strategy provides what `DeploymentStrategy` asks for, and the registry is the one place that
lists the strategies: the settings, their step keys and the rehearsal's choices all come from it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from rehearsal.rollout import with_strategy
from safedeploy.errors import ConfigError
from safedeploy.guardrails.settings import DeploymentSettings
from safedeploy.strategies import STRATEGIES, DeploymentStrategy, comparisons, experiment_strategies, step_keys

ROOT = Path(__file__).resolve().parents[3]
PRODUCT = ("app.py", "safedeploy", "infra", "stacks", "lambdas", "rehearsal", "bench", "acceptance")
# "canary" also names the canary analysis and the `endpoint.canary` section: every other strategy and comparison name
# is scanned.
UNAMBIGUOUS = tuple(name for name in (*STRATEGIES, *comparisons()) if name != "canary")
SETTINGS = {"instance_count": 4, "wait_interval_seconds": 600, "canary": {"require_power": False}}


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_every_strategy_satisfies_the_protocol(name: str) -> None:
    strategy = STRATEGIES[name]
    assert isinstance(strategy, DeploymentStrategy) and strategy.name == name
    settings = DeploymentSettings.from_mapping({**SETTINGS, "strategy": name})
    share = strategy.share(settings)
    assert share.strategy == name and 0 < share.first <= 1 and share == settings.traffic_share()
    schedule, (waiting, explanation) = strategy.schedule(settings), strategy.waiting(settings)
    assert waiting == sum(bake.seconds for bake in schedule) and explanation
    policy = strategy.update_policy(settings)
    # Guarded updates are SageMaker's schedule; an experiment is moved by the traffic shifter and has none.
    assert strategy.guardrails == (policy is not None) == bool(schedule)
    if strategy.step is not None:
        assert strategy.guardrails and schedule[0].share == share.first < 1
    assert share.copy == strategy.copies and (strategy.comparison in comparisons() or strategy.comparison is None)
    if not strategy.guardrails:  # an experiment starts at its first share, and the traffic shifter moves it
        serving, candidate = strategy.start_weights(settings)  # type: ignore[attr-defined]
        assert candidate / (serving if strategy.copies else serving + candidate) == share.first
        assert experiment_strategies()[strategy.comparison] is strategy


def test_the_settings_take_the_strategies_and_their_step_keys_from_the_registry() -> None:
    with pytest.raises(ConfigError) as caught:
        DeploymentSettings.from_mapping({"strategy": "blue_green"})
    assert str(caught.value).endswith(f"is not one of {', '.join(STRATEGIES)}")
    sizes = {key for step in step_keys() for key in (step.percent, step.instances)}
    assert sizes <= set(DeploymentSettings.model_fields)
    for name in STRATEGIES:  # a section rehearsed with any strategy keeps only that strategy's step keys
        assert DeploymentSettings.from_mapping(with_strategy(SETTINGS, name)).strategy.name == name


def test_no_product_module_outside_the_registry_names_a_strategy() -> None:
    """A strategy's name is written in its own module only: nothing else compares or lists names."""
    found = []
    for top in PRODUCT:
        path = ROOT / top
        for file in [path] if path.is_file() else path.rglob("*.py"):
            if "strategies" in file.relative_to(ROOT).parts[:2]:
                continue
            for node in ast.walk(ast.parse(file.read_text(), str(file))):
                if isinstance(node, ast.Constant) and node.value in UNAMBIGUOUS:
                    found.append(f"{file.relative_to(ROOT)}:{node.lineno} {node.value!r}")
    assert found == []


def test_what_the_settings_read_imports_nothing_of_them() -> None:
    """The settings read the strategies, the autoscaling section and the bake plan; those read the settings through
    protocols (`RolloutSettings`, `PlannedSettings`), so no import, not even a type's, goes back."""
    guardrails = ROOT / "safedeploy" / "guardrails"
    read = [*(ROOT / "safedeploy" / "strategies").glob("*.py"), guardrails / "autoscaling.py", guardrails / "bake.py"]
    for file in read:
        imported = {node.module for node in ast.walk(ast.parse(file.read_text())) if isinstance(node, ast.ImportFrom)}
        assert "safedeploy.guardrails.settings" not in imported, file.name
