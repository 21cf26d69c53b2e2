"""The exact `DeploymentConfig` of an UpdateEndpoint request: the strategy's update policy and its rollback alarms.

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
from safedeploy.guardrails.settings import MAX_ROLLBACK_ALARMS, DeploymentSettings


def auto_rollback_configuration(alarm_names: Sequence[str]) -> dict[str, Any]:
    if not 1 <= len(alarm_names) <= MAX_ROLLBACK_ALARMS:
        raise ConfigError(
            f"alarm_names: a guarded deployment needs 1-{MAX_ROLLBACK_ALARMS} auto-rollback alarms, got "
            f"{len(alarm_names)}; is the guardrails stack deployed?"
        )
    return {"Alarms": [{"AlarmName": name} for name in alarm_names]}


def deployment_config(settings: DeploymentSettings, alarm_names: Sequence[str]) -> dict[str, Any]:
    """UpdateEndpoint's DeploymentConfig for a guarded strategy: its update policy and the auto-rollback alarms."""
    policy = settings.strategy.update_policy(settings)
    if policy is None:
        raise ConfigError(f"strategy: {settings.strategy.name!r} is not carried out by UpdateEndpoint guardrails")
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
