"""The exact `DeploymentConfig` of an UpdateEndpoint request for each guarded strategy.

Step sizes go out as the settings give them: CAPACITY_PERCENT for a `*_percent` key (the same setting holds when the
fleet size changes), INSTANCE_COUNT for a `*_instances` key or by default (the request states the instances SageMaker
turns on, so nothing depends on its undocumented rounding of a percentage). Every guarded update carries
the auto-rollback alarms: SageMaker watches them during each bake and returns all traffic to the old fleet when
one fires, which is the whole point of deploying through guardrails.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from safedeploy.errors import ConfigError
from safedeploy.guardrails.settings import MAX_ROLLBACK_ALARMS, DeploymentSettings, Strategy
from safedeploy.guardrails.traffic_share import step_capacity

_TRAFFIC_ROUTING_TYPES = {
    Strategy.CANARY: "CANARY",
    Strategy.LINEAR: "LINEAR",
    Strategy.ALL_AT_ONCE: "ALL_AT_ONCE",
}


def capacity_percent(value: int) -> dict[str, Any]:
    return {"Type": "CAPACITY_PERCENT", "Value": value}


def capacity_size(percent: int | None, instances: int | None) -> dict[str, Any]:
    capacity_type, value = step_capacity(percent, instances)
    return {"Type": capacity_type, "Value": value}


def auto_rollback_configuration(alarm_names: Sequence[str]) -> dict[str, Any]:
    if not 1 <= len(alarm_names) <= MAX_ROLLBACK_ALARMS:
        raise ConfigError(
            f"alarm_names: a guarded deployment needs 1-{MAX_ROLLBACK_ALARMS} auto-rollback alarms, got "
            f"{len(alarm_names)}; is the guardrails stack deployed?"
        )
    return {"Alarms": [{"AlarmName": name} for name in alarm_names]}


def blue_green_update_policy(settings: DeploymentSettings) -> dict[str, Any]:
    routing: dict[str, Any] = {
        "Type": _TRAFFIC_ROUTING_TYPES[settings.strategy],
        "WaitIntervalInSeconds": settings.wait_interval_seconds,
    }
    if settings.strategy is Strategy.CANARY:
        routing["CanarySize"] = capacity_size(settings.canary_size_percent, settings.canary_size_instances)
    elif settings.strategy is Strategy.LINEAR:
        routing["LinearStepSize"] = capacity_size(settings.linear_step_percent, settings.linear_step_instances)
    return {
        "TrafficRoutingConfiguration": routing,
        "TerminationWaitInSeconds": settings.termination_wait_seconds,
        "MaximumExecutionTimeoutInSeconds": settings.max_execution_timeout_seconds,
    }


def rolling_update_policy(settings: DeploymentSettings) -> dict[str, Any]:
    return {
        "MaximumBatchSize": capacity_size(settings.rolling_batch_percent, settings.rolling_batch_instances),
        "WaitIntervalInSeconds": settings.wait_interval_seconds,
        "MaximumExecutionTimeoutInSeconds": settings.max_execution_timeout_seconds,
        "RollbackMaximumBatchSize": capacity_percent(settings.rollback_batch_percent),
    }


def deployment_config(settings: DeploymentSettings, alarm_names: Sequence[str]) -> dict[str, Any]:
    """UpdateEndpoint's DeploymentConfig for a guarded strategy (canary, linear, all_at_once, rolling)."""
    if not settings.strategy.is_guarded_update:
        raise ConfigError(f"strategy: {settings.strategy.value!r} is not carried out by UpdateEndpoint guardrails")
    policy = (
        {"RollingUpdatePolicy": rolling_update_policy(settings)}
        if settings.strategy is Strategy.ROLLING
        else {"BlueGreenUpdatePolicy": blue_green_update_policy(settings)}
    )
    return {**policy, "AutoRollbackConfiguration": auto_rollback_configuration(alarm_names)}


def guarded_update_request(
    endpoint_name: str, endpoint_config_name: str, settings: DeploymentSettings, alarm_names: Sequence[str]
) -> dict[str, Any]:
    """The complete UpdateEndpoint request of a guarded deployment."""
    return {
        "EndpointName": endpoint_name,
        "EndpointConfigName": endpoint_config_name,
        "DeploymentConfig": deployment_config(settings, alarm_names),
    }
