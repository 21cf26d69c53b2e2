"""Every settings rule refuses a bad value with one line naming the key path, the value and what is allowed."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from scipy import stats

from safedeploy.errors import ConfigError
from safedeploy.guardrails import alarm_noise
from safedeploy.guardrails.bake import bake_plan
from safedeploy.guardrails.settings import (
    TIMEOUT_SLACK_SECONDS,
    DeploymentSettings,
    GuardrailParameter,
)
from safedeploy.strategies.canary import CANARY

PATH = "environments.dev.endpoint"


def refused(raw: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        DeploymentSettings.from_mapping(raw, path=PATH)
    return str(caught.value)


def test_defaults_are_a_valid_canary_with_a_planned_bake() -> None:
    settings = DeploymentSettings.from_mapping({}, path=PATH)
    assert settings.strategy is CANARY
    bake = bake_plan(settings).needed_seconds
    # the timeout is derived from the waits: 2 bakes (the canary's, the final one) + termination wait + slack
    timeout = 2 * bake + DeploymentSettings().termination_wait_seconds + TIMEOUT_SLACK_SECONDS
    expected = DeploymentSettings().model_copy(
        update={"wait_interval_seconds": bake, "max_execution_timeout_seconds": timeout}
    )
    assert settings == expected


def test_to_dict_round_trips() -> None:
    raw = {
        "strategy": "linear",
        "linear_step_percent": 25,
        "wait_interval_seconds": 600,
        "ab_weights": [10, 100],
        "alarms": {"model_latency_ms": 80},
        "canary": {"require_power": False},
    }
    settings = DeploymentSettings.from_mapping(raw)
    assert DeploymentSettings.from_mapping(json.loads(json.dumps(settings.to_dict()))) == settings
    assert settings.to_dict()["alarms"] == {"error_rate_5xx_percent": 5.0, "model_latency_ms": 80.0}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"canary_size_percent": 80}, f"{PATH}.canary_size_percent: 80 is out of range (1-50)"),
        ({"canary_size_percent": 0}, f"{PATH}.canary_size_percent: 0 is out of range (1-50)"),
        ({"linear_step_percent": 5}, f"{PATH}.linear_step_percent: 5 is out of range (10-50)"),
        ({"linear_step_percent": 60}, f"{PATH}.linear_step_percent: 60 is out of range (10-50)"),
        ({"wait_interval_seconds": 3601}, f"{PATH}.wait_interval_seconds: 3601 is out of range (0-3600)"),
        ({"wait_interval_seconds": -1}, f"{PATH}.wait_interval_seconds: -1 is out of range (0-3600)"),
        ({"termination_wait_seconds": 4000}, f"{PATH}.termination_wait_seconds: 4000 is out of range (0-3600)"),
        (
            {"max_execution_timeout_seconds": 599},
            f"{PATH}.max_execution_timeout_seconds: 599 is out of range (600-14400)",
        ),
        (
            {"max_execution_timeout_seconds": 20000},
            f"{PATH}.max_execution_timeout_seconds: 20000 is out of range (600-14400)",
        ),
        ({"rolling_batch_percent": 4}, f"{PATH}.rolling_batch_percent: 4 is out of range (5-50)"),
        ({"rollback_batch_percent": 101}, f"{PATH}.rollback_batch_percent: 101 is out of range (5-100)"),
        ({"shadow_sampling_percent": 0}, f"{PATH}.shadow_sampling_percent: 0 is out of range (1-100)"),
        ({"instance_count": 0}, f"{PATH}.instance_count: 0 is out of range (1-100)"),
        ({"instance_count": True}, f"{PATH}.instance_count: True must be an integer (1-100)"),
        ({"wait_interval_seconds": "600"}, f"{PATH}.wait_interval_seconds: '600' must be an integer (0-3600)"),
        ({"instance_type": "m5.large"}, f"{PATH}.instance_type: 'm5.large' must look like 'ml.m5.large'"),
        (
            {"strategy": "blue_green"},
            f"{PATH}.strategy: 'blue_green' is not one of canary, linear, all_at_once, rolling, shadow, ab",
        ),
        ({"canary_percent": 10}, f"{PATH}.canary_percent: unknown key; allowed: instance_type, instance_count"),
        ({"alarms": {"error_rate": 1}}, f"{PATH}.alarms.error_rate: unknown key; allowed: error_rate_5xx_percent"),
        ({"alarms": [1]}, f"{PATH}.alarms: [1] must be an object"),
        (
            {"alarms": {"error_rate_5xx_percent": 0}},
            f"{PATH}.alarms.error_rate_5xx_percent: 0 is out of range (above 0, at most 100)",
        ),
        (
            {"alarms": {"model_latency_ms": 90000}},
            f"{PATH}.alarms.model_latency_ms: 90000 is out of range (above 0, at most 60000)",
        ),
        ({"alarms": {"model_latency_ms": "fast"}}, f"{PATH}.alarms.model_latency_ms: 'fast' must be a number"),
        ({"ab_weights": "5,100"}, f"{PATH}.ab_weights: '5,100' must be a list of integers"),
        ({"ab_weights": [5, 50, 25, 100]}, f"{PATH}.ab_weights: [5, 50, 25, 100] must be at least two candidate"),
        ({"ab_weights": [5, 25, 50]}, f"{PATH}.ab_weights: [5, 25, 50] must be at least two candidate weights"),
        ({"ab_weights": [100]}, f"{PATH}.ab_weights: [100] must be at least two candidate weights"),
        ({"ab_weights": [0, 100]}, f"{PATH}.ab_weights: [0, 100] must be at least two candidate weights"),
    ],
)
def test_each_rule_names_the_key_the_value_and_the_range(raw: dict[str, Any], expected: str) -> None:
    assert refused(raw).startswith(expected)


def test_the_section_must_be_an_object() -> None:
    assert refused("canary") == f"{PATH}: 'canary' must be an object"


@pytest.mark.parametrize("strategy", ["canary", "linear", "rolling"])
def test_stepwise_strategies_need_a_fleet_of_two(strategy: str) -> None:
    message = refused({"strategy": strategy, "instance_count": 1})
    assert message.startswith(f"{PATH}.instance_count: 1 is too small for strategy '{strategy}'")


@pytest.mark.parametrize("strategy", ["all_at_once", "shadow", "ab"])
def test_single_instance_fleets_suit_strategies_without_steps(strategy: str) -> None:
    assert DeploymentSettings.from_mapping({"strategy": strategy, "instance_count": 1}).instance_count == 1


def test_inferentia_1_cannot_be_guarded() -> None:
    message = refused({"instance_type": "ml.inf1.xlarge"})
    assert message.startswith(f"{PATH}.instance_type: 'ml.inf1.xlarge' does not support deployment guardrails")
    assert DeploymentSettings.from_mapping({"instance_type": "ml.inf1.xlarge", "strategy": "shadow"})


@pytest.mark.parametrize(
    ("raw", "waiting"),
    [
        # a canary: its bake, the final bake after the full shift, then the termination wait
        ({"wait_interval_seconds": 600, "termination_wait_seconds": 300, "max_execution_timeout_seconds": 1200}, 1500),
        ({"strategy": "all_at_once", "wait_interval_seconds": 600, "termination_wait_seconds": 300,
          "max_execution_timeout_seconds": 900}, 900),
        ({"strategy": "linear", "linear_step_percent": 25, "instance_count": 4, "wait_interval_seconds": 300,
          "termination_wait_seconds": 0, "max_execution_timeout_seconds": 1200}, 1200),
        ({"strategy": "rolling", "rolling_batch_percent": 20, "instance_count": 5, "wait_interval_seconds": 600,
          "max_execution_timeout_seconds": 2400}, 3000),
    ],
)  # fmt: skip
def test_the_timeout_must_exceed_the_waiting_it_allows_for(raw: dict[str, Any], waiting: int) -> None:
    message = refused(raw)
    assert message.startswith(f"{PATH}.max_execution_timeout_seconds: {raw['max_execution_timeout_seconds']} must")
    assert f"= {waiting} s" in message


def test_a_canary_budgets_the_final_bake_after_the_full_shift() -> None:
    """SageMaker: all traffic shifts, "there is a final baking period", then TerminationWaitInSeconds. The shipped dev
    settings (a 3540 s planned bake, 4500 s timeout) would time out on every guarded release: refused now."""
    settings = DeploymentSettings.from_mapping(
        {"wait_interval_seconds": 600, "termination_wait_seconds": 300, "canary": {"require_power": False}}
    )
    assert settings.total_waiting_seconds() == (
        1500,
        "2 bakes (the canary, then the final bake) x wait_interval_seconds 600 + termination_wait_seconds 300",
    )
    old_dev = {"wait_interval_seconds": 3540, "termination_wait_seconds": 300, "max_execution_timeout_seconds": 4500}
    assert refused({**old_dev, "canary": {"require_power": False}}).endswith("= 7380 s)")
    auto = DeploymentSettings.from_mapping({**old_dev, "max_execution_timeout_seconds": "auto", "canary": {
        "require_power": False}})  # fmt: skip
    assert auto.max_execution_timeout_seconds == 7380 + TIMEOUT_SLACK_SECONDS


def test_waits_beyond_what_any_timeout_covers_are_refused_in_one_line() -> None:
    raw = {"strategy": "linear", "instance_count": 10, "linear_step_instances": 1, "wait_interval_seconds": 3600,
           "canary": {"require_power": False}}  # fmt: skip
    message = refused(raw)
    assert message.startswith(f"{PATH}.wait_interval_seconds: a linear deployment waits 10 steps")
    assert "= 36300 s, more than the 14400 s" in message and "\n" not in message


def test_parameter_round_trips_through_json() -> None:
    parameter = GuardrailParameter(DeploymentSettings.from_mapping({"strategy": "ab"}), ["a-5xx", "a-latency"])
    loaded = GuardrailParameter.from_json(parameter.to_json())
    assert loaded == parameter
    assert json.loads(parameter.to_json())["alarm_names"] == ["a-5xx", "a-latency"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{", "/p/dev/deployment-config: not valid JSON"),
        ('{"alarm_names": []}', "/p/dev/deployment-config.settings: missing"),
        ('{"settings": {}}', "/p/dev/deployment-config.alarm_names: missing"),
        ('{"settings": {}, "alarm_names": "x"}', "/p/dev/deployment-config.alarm_names: 'x' must be a list"),
        ('{"settings": {"strategy": "x"}, "alarm_names": []}', "/p/dev/deployment-config.settings.strategy: 'x'"),
        ('{"settings": {}, "alarm_names": [], "extra": 1}', "/p/dev/deployment-config.extra: unknown key"),
    ],
)
def test_parameter_loader_names_what_is_wrong(text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match="^" + expected.replace(".", r"\.").replace("[", r"\[")):
        GuardrailParameter.from_json(text, path="/p/dev/deployment-config")


def test_at_most_ten_rollback_alarms() -> None:
    with pytest.raises(ConfigError, match="alarm_names: 11 alarms; SageMaker takes at most 10"):
        GuardrailParameter(DeploymentSettings(), [f"alarm-{i}" for i in range(11)])


def test_importing_settings_loads_no_aws_sdk() -> None:
    """The CDK app imports the settings at synth, where no AWS SDK call may happen."""
    probe = "import sys, safedeploy.guardrails.settings; print(sorted(m for m in sys.modules if m.startswith('boto')))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            {"strategy": "linear", "linear_step_percent": 10, "instance_count": 3},
            f"{PATH}.linear_step_percent: 10 % of 3 instances is 1 instance, 33 % of traffic, more than 2x the 10 % "
            "intended; size it in whole instances (linear_step_instances: 1), or use at least 5 instances",
        ),
        (
            {"strategy": "canary", "canary_size_instances": 2, "instance_count": 3},
            f"{PATH}.canary_size_instances: 2 of 3 instances is 67 % of the fleet; SageMaker allows 1-50 %",
        ),
        (
            {"strategy": "canary", "canary_size_instances": 1, "canary_size_percent": 10},
            f"{PATH}.canary_size_instances: give canary_size_percent or canary_size_instances, not both",
        ),
    ],
)
def test_step_sizes_are_whole_instances(raw: dict[str, Any], expected: str) -> None:
    assert refused(raw).startswith(expected)


@pytest.mark.parametrize(
    "raw",
    [
        {"strategy": "canary", "canary_size_percent": 10, "instance_count": 5},  # 1 of 5: 20 %, twice the 10 %
        {"strategy": "rolling", "rolling_batch_percent": 25, "instance_count": 2},  # 1 of 2: 50 %, twice the 25 %
        {"strategy": "linear", "linear_step_instances": 1, "instance_count": 3},  # INSTANCE_COUNT says it exactly
    ],
)
def test_a_share_within_twice_the_intended_or_in_instances_is_accepted(raw: dict[str, Any]) -> None:
    fixed_bake = {"wait_interval_seconds": 600, "canary": {"require_power": False}}  # the share, not the plan
    assert DeploymentSettings.from_mapping({**raw, **fixed_bake}).traffic_share().ratio <= 2


def test_a_5xx_threshold_inside_the_baseline_noise_is_refused_with_the_threshold_that_would_do() -> None:
    """1 % errors at 100 requests a minute exceed 1 % in a quarter of the minutes: the alarm would roll back
    healthy deployments. 4 % is the smallest tenth of a percent that keeps it under 1 % per deployment."""
    raw = {"alarms": {"error_rate_5xx_percent": 1.0}, "canary": {"require_power": False}}
    with pytest.raises(ConfigError) as refused:
        DeploymentSettings.from_mapping(raw, path=PATH)
    message = str(refused.value)
    assert message.startswith(f"{PATH}.alarms.error_rate_5xx_percent: 1 % is within the noise")
    assert "use at least 4 %" in message and "\n" not in message
    assert DeploymentSettings.from_mapping({**raw, "alarms": {"error_rate_5xx_percent": 4.0}}, path=PATH)


def test_the_noise_bound_matches_the_binomial_it_describes() -> None:
    """Against scipy: the chance one minute breaches, and 2 or 3 of 3 minutes breaching, over the deployment."""
    breach = stats.binom.sf(3, 300, 0.01)  # more than 1 % of 300 requests, i.e. at least 4 errors
    window = 3 * breach**2 * (1 - breach) + breach**3
    assert alarm_noise.false_rollback_probability(0.01, 300, 0.01, 10) == pytest.approx(min(1.0, 10 * window))
    assert alarm_noise.false_rollback_probability(0.05, 100, 0.01, 75) < 0.001
