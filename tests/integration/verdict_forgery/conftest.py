"""The shifter's handler reads its Powertools settings when imported, as in Lambda; moto comes from the canary tests.

Every call the analysis, the traffic shifter and the attacker make is decided against project `demo`'s templates."""

from __future__ import annotations

import os

os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "SafeDeploy")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")

from tests.integration.deploy.conftest import in_force, policies  # noqa: F401 -- the templates in force
from tests.unit.canary.conftest import clients, clock  # noqa: F401 -- fixtures shared with tests/unit/canary
