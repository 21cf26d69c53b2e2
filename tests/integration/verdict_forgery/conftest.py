"""The shifter's handler reads its Powertools settings when imported, as in Lambda; moto comes from the canary tests.

Every call the analysis, the traffic shifter and the attacker make is decided against project `demo`'s templates."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "SafeDeploy")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")

from tests.support import iam_enforcement
from tests.support.deploy_world import BINDINGS
from tests.support.iam_eval import PolicyWorld
from tests.support.two_environments import policy_world
from tests.unit.canary.conftest import clients, clock  # noqa: F401 -- fixtures shared with tests/unit/canary


@pytest.fixture(scope="session")
def policies() -> PolicyWorld:
    return policy_world(BINDINGS)


@pytest.fixture(autouse=True)
def in_force(policies: PolicyWorld, tmp_path: Path) -> Iterator[PolicyWorld]:
    with iam_enforcement.policies_in_force([policies], tmp_path):
        yield policies
