"""Deploy one Approved model package to the environment's endpoint with the configured strategy.

The first deploy creates the endpoint; later ones update it through SageMaker's deployment guardrails (canary,
linear, all_at_once, rolling, each with auto-rollback alarms) or start a shadow or A/B experiment. A package that
is not Approved is refused before anything is created, a deployment already in progress is waited for rather than
clobbered, the package already live is a no-op, and an update SageMaker rolled back is reported as a failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from safedeploy.guardrails import resource_tags
from safedeploy.guardrails.ab_test import start_ab
from safedeploy.guardrails.deploy_target import DeployTarget
from safedeploy.guardrails.deployment_config import guarded_update_request
from safedeploy.guardrails.endpoint_status import EndpointSnapshot, EndpointWaiter, describe_endpoint, expect_live
from safedeploy.guardrails.errors import DeploymentFailed
from safedeploy.guardrails.experiment import Experiment
from safedeploy.guardrails.model_package import ModelPackage
from safedeploy.guardrails.release_names import ReleaseNames
from safedeploy.guardrails.release_resources import ensure_release
from safedeploy.guardrails.settings import DeploymentSettings, Strategy
from safedeploy.guardrails.shadow import start_shadow

# Provisioning the new fleet comes before SageMaker's execution timer; allow for it when waiting.
PROVISIONING_ALLOWANCE_SECONDS = 1800


def deployment_timeout_seconds(settings: DeploymentSettings) -> float:
    return settings.max_execution_timeout_seconds + PROVISIONING_ALLOWANCE_SECONDS


class DeployAction(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    SHADOW_STARTED = "shadow-started"
    AB_STARTED = "ab-started"


@dataclass(frozen=True)
class DeployResult:
    endpoint_name: str
    package_arn: str
    endpoint_config_name: str
    action: DeployAction
    previous_config_name: str | None = None

    def summary(self) -> str:
        before = f" (was {self.previous_config_name})" if self.previous_config_name else ""
        return f"{self.action.value}: {self.endpoint_name} serves {self.endpoint_config_name}{before}"


def deploy_package(
    sm: Any, package_arn: str, target: DeployTarget, waiter: EndpointWaiter, model_data_url: str | None = None
) -> DeployResult:
    """`model_data_url`: serve the model from this verified copy instead of the package's own ModelDataUrl."""
    package = ModelPackage.describe(sm, package_arn)
    package.require_approved()
    if model_data_url is not None:
        package = package.served_from(model_data_url)
    settings = target.guardrails.settings
    names = ReleaseNames(target.endpoint_name, package.version)
    ensure_release(sm, names, package, target.execution_role_arn, settings)
    live = _settled(waiter, target.endpoint_name, names)
    if live is None:
        return _create(sm, names, package, waiter)
    _require_updatable(live)
    if live.config_name in names.all_configs:
        waiter.progress(f"{package.arn} is already deployed on {live.name} ({live.config_name}); nothing to do")
        return DeployResult(live.name, package.arn, live.config_name, DeployAction.UNCHANGED)
    _require_no_experiment(sm, live, names)
    config_name, action = _start(sm, live, names, package, target)
    waiter.progress(f"deploying {config_name} to {live.name} with strategy {settings.strategy.value}")
    expect_live(waiter.until_settled(live.name), live.name, config_name, previous=live.config_name)
    if action is DeployAction.UPDATED:
        _record_release(sm, live, package.arn)
    return DeployResult(live.name, package.arn, config_name, action, previous_config_name=live.config_name)


def _settled(waiter: EndpointWaiter, endpoint_name: str, names: ReleaseNames) -> EndpointSnapshot | None:
    snapshot = describe_endpoint(waiter.sm, endpoint_name)
    if snapshot is not None and snapshot.changing:
        waiter.progress(
            f"endpoint {endpoint_name} is {snapshot.status}: waiting for that to finish before deploying "
            f"{names.release_config}"
        )
        snapshot = waiter.until_settled(endpoint_name)
    return snapshot


def _create(sm: Any, names: ReleaseNames, package: ModelPackage, waiter: EndpointWaiter) -> DeployResult:
    """First deployment: nothing to compare the candidate with, so it serves alone whatever the strategy."""
    sm.create_endpoint(
        EndpointName=names.endpoint_name,
        EndpointConfigName=names.release_config,
        Tags=resource_tags.tag_list({resource_tags.PACKAGE_ARN: package.arn}),
    )
    waiter.progress(f"creating endpoint {names.endpoint_name} with {names.release_config}")
    expect_live(waiter.until_settled(names.endpoint_name), names.endpoint_name, names.release_config, previous=None)
    return DeployResult(names.endpoint_name, package.arn, names.release_config, DeployAction.CREATED)


def _require_updatable(live: EndpointSnapshot) -> None:
    if live.status == "Failed":
        raise DeploymentFailed(
            f"endpoint {live.name} is Failed ({live.failure_reason or 'no reason given'}); SageMaker cannot update "
            "a failed endpoint: delete it and deploy again (the deploy creates it)"
        )


def _require_no_experiment(sm: Any, live: EndpointSnapshot, names: ReleaseNames) -> None:
    experiment = Experiment.running_on(sm, live)
    if experiment is not None:
        raise DeploymentFailed(
            f"endpoint {live.name} runs a {experiment.kind.value} experiment of {experiment.candidate_config}; "
            f"it ends on a canary verdict or with `safedeploy rollback`, then deploy {names.release_config}"
        )


def _start(
    sm: Any, live: EndpointSnapshot, names: ReleaseNames, package: ModelPackage, target: DeployTarget
) -> tuple[str, DeployAction]:
    settings = target.guardrails.settings
    if settings.strategy is Strategy.SHADOW:
        return start_shadow(sm, live, names, package.arn, settings), DeployAction.SHADOW_STARTED
    if settings.strategy is Strategy.AB:
        return start_ab(sm, live, names, package.arn, settings), DeployAction.AB_STARTED
    sm.update_endpoint(
        **guarded_update_request(live.name, names.release_config, settings, target.guardrails.alarm_names)
    )
    return names.release_config, DeployAction.UPDATED


def _record_release(sm: Any, live: EndpointSnapshot, package_arn: str) -> None:
    resource_tags.write_tags(
        sm, live.arn, {resource_tags.PREVIOUS_CONFIG: live.config_name, resource_tags.PACKAGE_ARN: package_arn}
    )
