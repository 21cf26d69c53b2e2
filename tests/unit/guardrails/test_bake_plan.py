"""Bakes come from the plan: `"auto"` takes it, a bake that cannot reach the declared power is refused with the
numbers, and SageMaker's 3600 s ceiling is a refusal, not a silent cap."""

from __future__ import annotations

import pytest

from safedeploy.canary.metrics import PLANNED_METRICS
from safedeploy.errors import ConfigError
from safedeploy.guardrails.bake import bake_plan, bake_report, candidate_share, detectable_harm
from safedeploy.guardrails.settings import DeploymentSettings

PATH = "environments.dev.endpoint"
DEV = {"instance_count": 2, "canary": {"expected_requests_per_minute": 100, "latency_log_sigma": 0.8}}


def settings(**overrides: object) -> DeploymentSettings:
    raw = {**DEV, **overrides}
    raw["canary"] = {**DEV["canary"], **overrides.get("canary", {})}  # type: ignore[dict-item]
    return DeploymentSettings.from_mapping(raw, PATH)


def test_auto_takes_the_planned_bake_and_reaches_the_declared_power() -> None:
    planned = settings(wait_interval_seconds="auto", max_execution_timeout_seconds=14400)
    plan = bake_plan(planned)
    assert planned.wait_interval_seconds == plan.needed_seconds
    assert all(metric.power_at_bake >= 0.9 for metric in plan.metrics)
    assert all((metric.late_power_at_bake or 0) >= 0.9 - 1e-6 for metric in plan.metrics)
    assert candidate_share(planned) == 0.5


def test_a_bake_too_short_for_the_power_is_refused_with_the_numbers() -> None:
    needed = settings(max_execution_timeout_seconds=14400).wait_interval_seconds
    with pytest.raises(ConfigError) as refused:
        settings(wait_interval_seconds=600)
    message = str(refused.value)
    assert message.startswith(f"{PATH}.wait_interval_seconds: 600 s cannot reach the declared power")
    assert f"at least {needed} s" in message and "requests/minute at the quietest hour" in message
    assert message.endswith("canary.require_power: false to accept the weaker test (synth then prints what it detects)")


def test_a_plan_beyond_sagemakers_ceiling_is_refused_unless_the_weaker_test_is_accepted() -> None:
    with pytest.raises(ConfigError, match="above SageMaker's 3600 s"):
        settings(canary={"latency_log_sigma": 1.5})
    accepted = settings(canary={"latency_log_sigma": 1.5, "require_power": False}, max_execution_timeout_seconds=14400)
    assert accepted.wait_interval_seconds == 3600
    assert not bake_plan(accepted).reaches_power


def test_more_traffic_or_a_larger_canary_needs_a_shorter_bake() -> None:
    base = bake_plan(settings(canary={"require_power": False}, max_execution_timeout_seconds=14400))
    busier = bake_plan(settings(canary={"expected_requests_per_minute": 400}))
    assert busier.needed_seconds < base.needed_seconds
    powers = [bake_plan(settings(canary={"require_power": False}), bake_seconds=60 * m).metrics[0].power_at_bake
              for m in (10, 20, 40)]  # fmt: skip
    assert powers == sorted(powers)


def test_auto_is_only_for_strategies_with_a_bake_to_plan() -> None:
    with pytest.raises(ConfigError, match='"auto" plans the bake of a canary, linear or rolling update'):
        settings(strategy="ab", wait_interval_seconds="auto")
    assert settings(strategy="ab").wait_interval_seconds == DeploymentSettings().wait_interval_seconds


def test_synth_reports_each_bake_and_its_power_without_a_warning_when_the_power_is_reached() -> None:
    planned = settings(wait_interval_seconds="auto", max_execution_timeout_seconds=14400)
    (line,) = bake_report("dev", planned)
    assert line.startswith(f"dev: bake {planned.wait_interval_seconds} s at 100 requests/minute and a candidate share "
                           "of 0.500 gives power error_rate ")  # fmt: skip


def test_a_weakened_bake_is_reported_with_what_it_still_detects_at_the_declared_power() -> None:
    weak = settings(strategy="linear", wait_interval_seconds=900, canary={"require_power": False})
    summary, warning = bake_report("dev", weak)
    assert summary.startswith("dev: bake 900 s") and "the declared power needs" in summary
    assert warning.startswith(
        "warning: dev: canary.require_power is false and a bake of 900 s stays below the declared power 0.9; with that "
        "power it detects only canary.error_rate_mde_ratio "
    )
    for metric in PLANNED_METRICS:
        assert metric.mde is not None
        found = detectable_harm(weak, metric)
        assert found is not None and found > getattr(weak.canary, metric.mde.name)
        assert f"{metric.mde.key} {found:.3g} (declared {getattr(weak.canary, metric.mde.name):g})" in warning

        def power(value: float, metric_name: str = metric.name, key: str = metric.mde.name) -> float:
            changed = weak.model_copy(update={"canary": weak.canary.model_copy(update={key: value})})
            planned = next(item for item in bake_plan(changed).metrics if item.name == metric_name)
            return min(planned.power_at_bake, planned.late_power_at_bake or 1.0)

        # the smallest harm caught with the declared power: at it the power is reached, 1 % below it is not
        assert power(found) >= 0.9 > power(0.99 * found)
