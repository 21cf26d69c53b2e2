"""The stage's stacks are the ones teardown deletes, and teardown deletes each before the stacks it imports from."""

from __future__ import annotations

import pytest
from aws_cdk import Stack

from safedeploy.naming import StackPurpose
from safedeploy.operations.teardown import STACK_PURPOSES
from stacks.stage import EnvironmentStage


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_teardown_knows_every_stack_and_deletes_dependents_first(stages: dict[str, EnvironmentStage], env: str) -> None:
    stage = stages[env]
    stacks = {child.stack_name: child for child in stage.node.children if isinstance(child, Stack)}
    order = [stage.naming.resource(purpose) for purpose in STACK_PURPOSES]
    assert set(stacks) == set(order) and len(order) == len(StackPurpose)
    for name, stack in stacks.items():
        for dependency in stack.dependencies:
            assert order.index(name) < order.index(dependency.stack_name), (name, dependency.stack_name)
