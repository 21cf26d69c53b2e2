"""A bake cannot be re-planned once SageMaker runs it: the record says what power the measured traffic and latency
spread leave, and says it in the reasons when that is below the declared power."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

from safedeploy.canary.analysis import measured_plan
from safedeploy.guardrails.settings import DeploymentSettings

SETTINGS = DeploymentSettings.from_mapping(
    {"instance_count": 2, "canary": {"expected_requests_per_minute": 100, "latency_log_sigma": 0.8}}, "endpoint"
)
# a minute one fleet has not reported yet is no minute of traffic: 100 requests a minute where both reported
READINGS = SimpleNamespace(
    baseline_requests=np.array([50.0, 50.0, np.nan, 48.0]), candidate_requests=np.array([50.0, np.nan, 51.0, 52.0])
)


def verdict(log_sigma: float | None) -> Any:
    return SimpleNamespace(metrics={"latency_p50_ms": {"log_sigma": log_sigma}, "error_rate": {}})


def test_heavier_tails_than_declared_are_stated_with_the_power_they_leave() -> None:
    found = measured_plan(SETTINGS, 0.5, verdict(1.5), READINGS)
    assert found is not None
    plan, line = found
    assert plan["requests_per_minute"] == 100.0 and plan["latency_log_sigma"] == 1.5
    latency = next(metric for metric in plan["metrics"] if metric["name"] == "latency_p50_ms")
    assert latency["late_power_at_bake"] < 0.9 and not plan["reaches_power"]
    assert plan["bake_seconds"] == SETTINGS.wait_interval_seconds
    assert line is not None and line.startswith(
        "measured 100 requests/minute and latency log sigma 1.50 (declared 100 and 0.8): bake "
    )


def test_a_spread_within_the_plan_is_recorded_without_a_reason() -> None:
    found = measured_plan(SETTINGS, 0.5, verdict(0.5), READINGS)
    assert found is not None and found[1] is None and found[0]["reaches_power"]


def test_before_the_spread_is_known_nothing_is_claimed() -> None:
    assert measured_plan(SETTINGS, 0.5, verdict(None), READINGS) is None
    assert measured_plan(SETTINGS, 0.5, SimpleNamespace(metrics={}), READINGS) is None
