"""The deploy tests' moto server (one per module, emptied for each test), and project `demo`'s templates in force:
every call a principal makes in these tests is decided against them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from testbed import iam_enforcement
from testbed.aws import MotoServer, moto_server
from testbed.deploy_world import BINDINGS
from testbed.iam_eval import PolicyWorld
from tests.support.two_environments import policy_world


@pytest.fixture(scope="module")
def running_server() -> Iterator[MotoServer]:
    with moto_server() as server:
        yield server


@pytest.fixture
def server(running_server: MotoServer) -> MotoServer:
    """The module's moto server, emptied for each test."""
    running_server.reset()
    return running_server


@pytest.fixture(scope="module")
def policies() -> PolicyWorld:
    return policy_world(BINDINGS)


@pytest.fixture(autouse=True)
def in_force(policies: PolicyWorld, tmp_path: Path) -> Iterator[PolicyWorld]:
    with iam_enforcement.policies_in_force([policies], tmp_path):
        yield policies
