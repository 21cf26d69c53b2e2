"""What the rehearsal's SageMaker runtime answers the deploy's smoke test passes that smoke test, whatever the
model's contract: the example's CSV probability and the second example's JSON value."""

from __future__ import annotations

import pytest

from rehearsal.world import World
from safedeploy.build_steps.model_plugin import ModelPlugin
from safedeploy.environment_config import load_config
from safedeploy.naming import Naming
from tests.support.configuration import ETA_MODEL, two_environments


@pytest.mark.parametrize("model", [two_environments()["model"], ETA_MODEL], ids=["example", "eta"])
def test_the_queued_answers_are_healthy_in_the_models_format(model: dict[str, object]) -> None:
    plugin = ModelPlugin.from_mapping(model)
    config = load_config({**two_environments(), "model": model}).environments["dev"]
    world = World(Naming("my-mlops", "dev"), config, plugin, "bucket", "key")
    (answer, *rest) = world.smoke_answers()
    assert rest == [answer] * 3
    assert plugin.contract.health_problem(plugin.contract.read_answers(answer.encode())) is None
