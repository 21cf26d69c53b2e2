"""The exact DeploymentConfig each guarded strategy sends to UpdateEndpoint."""

from __future__ import annotations

import pytest

from safedeploy.errors import ConfigError
from safedeploy.guardrails.deployment_config import deployment_config, guarded_update_request
from safedeploy.guardrails.settings import DeploymentSettings

ALARMS = ["e-5xx", "e-latency", "e-verdict"]
ROLLBACK = {"Alarms": [{"AlarmName": "e-5xx"}, {"AlarmName": "e-latency"}, {"AlarmName": "e-verdict"}]}
TIMING = {
    "wait_interval_seconds": 300,
    "termination_wait_seconds": 120,
    "max_execution_timeout_seconds": 3000,
    "canary": {"require_power": False},
}


def settings(**raw: object) -> DeploymentSettings:
    return DeploymentSettings.from_mapping({**TIMING, **raw})


def test_canary() -> None:
    chosen = settings(strategy="canary", canary_size_percent=20, instance_count=5)
    assert deployment_config(chosen, ALARMS) == {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "WaitIntervalInSeconds": 300,
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 20},
            },
            "TerminationWaitInSeconds": 120,
            "MaximumExecutionTimeoutInSeconds": 3000,
        },
        "AutoRollbackConfiguration": ROLLBACK,
    }


@pytest.mark.parametrize(
    ("raw", "key", "size"),
    [
        ({"strategy": "canary"}, "CanarySize", 1),
        ({"strategy": "canary", "canary_size_instances": 2, "instance_count": 4}, "CanarySize", 2),
        ({"strategy": "linear", "linear_step_instances": 1}, "LinearStepSize", 1),
    ],
)
def test_steps_in_instances_are_sent_as_instance_count(raw: dict[str, object], key: str, size: int) -> None:
    routing = deployment_config(settings(**raw), ALARMS)["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing[key] == {"Type": "INSTANCE_COUNT", "Value": size}


def test_rolling_batch_defaults_to_one_instance() -> None:
    policy = deployment_config(settings(strategy="rolling"), ALARMS)["RollingUpdatePolicy"]
    assert policy["MaximumBatchSize"] == {"Type": "INSTANCE_COUNT", "Value": 1}


def test_linear() -> None:
    assert deployment_config(settings(strategy="linear", linear_step_percent=25, instance_count=4), ALARMS) == {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "LINEAR",
                "WaitIntervalInSeconds": 300,
                "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 25},
            },
            "TerminationWaitInSeconds": 120,
            "MaximumExecutionTimeoutInSeconds": 3000,
        },
        "AutoRollbackConfiguration": ROLLBACK,
    }


def test_all_at_once_still_bakes_with_alarms() -> None:
    assert deployment_config(settings(strategy="all_at_once"), ALARMS) == {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 300},
            "TerminationWaitInSeconds": 120,
            "MaximumExecutionTimeoutInSeconds": 3000,
        },
        "AutoRollbackConfiguration": ROLLBACK,
    }


def test_rolling() -> None:
    chosen = settings(strategy="rolling", rolling_batch_percent=50, rollback_batch_percent=100)  # 1 of 2 instances
    assert deployment_config(chosen, ALARMS) == {
        "RollingUpdatePolicy": {
            "MaximumBatchSize": {"Type": "CAPACITY_PERCENT", "Value": 50},
            "WaitIntervalInSeconds": 300,
            "MaximumExecutionTimeoutInSeconds": 3000,
            "RollbackMaximumBatchSize": {"Type": "CAPACITY_PERCENT", "Value": 100},
        },
        "AutoRollbackConfiguration": ROLLBACK,
    }


def test_update_request_names_endpoint_and_config() -> None:
    request = guarded_update_request("e", "e-v7", settings(), ALARMS)
    assert request == {
        "EndpointName": "e",
        "EndpointConfigName": "e-v7",
        "DeploymentConfig": deployment_config(settings(), ALARMS),
    }


@pytest.mark.parametrize("strategy", ["shadow", "ab"])
def test_experiments_are_not_update_policies(strategy: str) -> None:
    with pytest.raises(ConfigError, match=f"strategy: '{strategy}' is not carried out by UpdateEndpoint"):
        deployment_config(settings(strategy=strategy), ALARMS)


@pytest.mark.parametrize("alarms", [[], [f"a{i}" for i in range(11)]])
def test_a_guarded_update_needs_one_to_ten_alarms(alarms: list[str]) -> None:
    with pytest.raises(ConfigError, match="alarm_names: a guarded deployment needs 1-10 auto-rollback alarms"):
        deployment_config(settings(), alarms)
