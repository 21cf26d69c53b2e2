"""Handlers read their Powertools settings when imported, as in Lambda, where the function's environment sets them."""

from __future__ import annotations

import os

os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "SafeDeploy")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")

from tests.unit.canary.conftest import blue_green, clients, clock  # noqa: F401 -- fixtures shared with tests/unit/canary
