"""Deploy one Approved model package to the environment's endpoint with the configured strategy.

The first deploy creates the endpoint; later ones update it through SageMaker's deployment guardrails (canary,
linear, all_at_once, rolling, each with auto-rollback alarms) or start a shadow or A/B experiment. A package that
is not Approved is refused before anything is created, a deployment already in progress is waited for rather than
clobbered, the package already live is a no-op, and an update SageMaker rolled back is reported as a failure and
marks the package rolled back (`rolled_back`): deploying it again takes the operator's explicit override, recorded
before the endpoint changes (the bucket refuses that record to every role of the project, so a build step's override
deploys nothing) and cleared once the package is live. A mark that cannot be read refuses the deploy, as a mark would.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from safedeploy.guardrails import autoscaling, resource_tags
from safedeploy.guardrails.consistency import call_when_visible
from safedeploy.guardrails.deploy_target import DeployTarget
from safedeploy.guardrails.deployment_config import guarded_update_request
from safedeploy.guardrails.endpoint_status import (
    IN_SERVICE,
    EndpointSnapshot,
    EndpointWaiter,
    describe_endpoint,
    expect_live,
)
from safedeploy.guardrails.errors import (
    DeploymentFailed,
    MarkNotCleared,
    NotServedHere,
    PackageRolledBack,
    StepOutsideBand,
)
from safedeploy.guardrails.experiment import Experiment, start_experiment
from safedeploy.guardrails.model_package import ModelPackage
from safedeploy.guardrails.release_names import PRODUCTION_VARIANT, ReleaseNames
from safedeploy.guardrails.release_resources import ensure_release
from safedeploy.guardrails.settings import DeploymentSettings
from safedeploy.strategies.experiments import ExperimentStrategy
from safedeploy.write_once import served_artifact_refusal

# Provisioning the new fleet comes before SageMaker's execution timer; allow for it when waiting.
PROVISIONING_ALLOWANCE_SECONDS = 1800


def deployment_timeout_seconds(settings: DeploymentSettings) -> float:
    return settings.max_execution_timeout_seconds + PROVISIONING_ALLOWANCE_SECONDS


class DeployAction(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    STARTED = "started"  # an experiment, which `DeployResult.experiment` names


@dataclass(frozen=True)
class DeployResult:
    endpoint_name: str
    package_arn: str
    endpoint_config_name: str
    action: DeployAction
    previous_config_name: str | None = None
    experiment: str | None = None

    def summary(self) -> str:
        """`updated: ...`, or for an experiment `ab-started: ...`."""
        before = f" (was {self.previous_config_name})" if self.previous_config_name else ""
        action = f"{self.experiment}-{self.action}" if self.experiment else self.action.value
        return f"{action}: {self.endpoint_name} serves {self.endpoint_config_name}{before}"


def deploy_package(
    sm: Any,
    package_arn: str,
    target: DeployTarget,
    waiter: EndpointWaiter,
    aas: Any | None = None,
    *,
    allow_rolled_back: bool = False,
    model_data_url: str | None = None,
) -> DeployResult:
    """`aas`: an Application Auto Scaling client, needed when the settings enable endpoint autoscaling.
    `allow_rolled_back`: the operator's explicit override for a package a rollback marked (cleared once live).
    `model_data_url`: serve the model from this verified copy instead of the package's own ModelDataUrl."""
    package = ModelPackage.describe(sm, package_arn)
    package.require_approved()
    if model_data_url is not None:
        package = package.served_from(model_data_url)
    marks = target.require_marks()
    mark = marks.mark_of(package.arn)
    _require_served_here(package, marks.bucket)
    if mark and not allow_rolled_back:
        raise PackageRolledBack(
            f"model package {package.arn} was rolled back ({mark.describe()}): nothing was deployed. To deploy it "
            f"again deliberately: safedeploy deploy --package-arn {package.arn} --allow-rolled-back"
        )
    if mark:  # recorded before anything changes: a caller the bucket refuses it to deploys nothing
        override = marks.override(package.arn, mark, at=_now(), endpoint_name=target.endpoint_name)
        waiter.progress(f"deploying {package.arn} although it was rolled back ({mark.describe()}): {override}")
    result = _deploy(sm, package, target, waiter, aas)
    if mark:
        try:
            marks.clear(mark, at=_now(), endpoint_name=result.endpoint_name)
        except (ClientError, BotoCoreError) as error:
            raise MarkNotCleared(
                f"{package.arn} is live on {result.endpoint_name} but its rolled-back mark could not be cleared "
                f"({error}): it stays marked; the same command again clears it (the deploy is then a no-op)"
            ) from None
        waiter.progress(f"{package.arn} is live again: its rolled-back mark is cleared")
    return result


def _require_served_here(package: ModelPackage, bucket: str) -> None:
    """Every container's model data is under `bucket`'s write-once `models/` (the environment's artifacts bucket,
    where its marks are too), whoever calls: the CLI, the acceptance suite, any library caller."""
    for container in package.containers:
        url = container.get("ModelDataUrl")
        refusal = (
            served_artifact_refusal(url, bucket)
            if url and "ModelDataSource" not in container
            else f"model package {package.arn} has a container without a ModelDataUrl (or with a ModelDataSource): "
            "only a ModelDataUrl is what was hashed at registration"
        )
        if refusal:
            raise NotServedHere(f"{refusal}; nothing was deployed")


def _deploy(
    sm: Any, package: ModelPackage, target: DeployTarget, waiter: EndpointWaiter, aas: Any | None
) -> DeployResult:
    settings = target.guardrails.settings
    names = ReleaseNames(target.endpoint_name, package.version)
    ensure_release(sm, names, package, target.execution_role_arn, settings)
    live = _settled(waiter, target.endpoint_name, names)
    scaling_kept = autoscaling.suspended(
        aas, target.endpoint_name, PRODUCTION_VARIANT, settings.autoscaling, waiter.progress
    )
    if live is None:
        with scaling_kept:
            return _create(sm, names, package, waiter)
    _require_updatable(live)
    if live.config_name in names.all_configs:
        waiter.progress(f"{package.arn} is already deployed on {live.name} ({live.config_name}); nothing to do")
        return DeployResult(live.name, package.arn, live.config_name, DeployAction.UNCHANGED)
    _require_no_experiment(sm, live, names)
    with scaling_kept:
        config_name, action = _start(sm, live, names, package, target, waiter)
        share = settings.at_live_size(live.variants, PRODUCTION_VARIANT).traffic_share().describe()
        waiter.progress(f"deploying {config_name} to {live.name}: {share}")
        settled = waiter.until_settled(live.name)
        unmarked = ""
        if _rolled_back_by_sagemaker(settled, live.config_name):
            unmarked = _mark(target, package.arn, live.name, settled.failure_reason or "auto-rollback")
        try:
            expect_live(settled, live.name, config_name, previous=live.config_name)
        except DeploymentFailed as failure:
            raise DeploymentFailed(f"{failure}{unmarked}") from None
    if action is DeployAction.UPDATED:
        _record_release(sm, live, package.arn)
    experiment = settings.strategy.name if action is DeployAction.STARTED else None
    return DeployResult(live.name, package.arn, config_name, action, live.config_name, experiment)


def _mark(target: DeployTarget, package_arn: str, endpoint_name: str, reason: str) -> str:
    """Mark a package SageMaker rolled back; '' or why it is not marked (the failure is still the rollback's)."""
    try:
        target.require_marks().mark(package_arn, at=_now(), endpoint_name=endpoint_name, reason=reason)
    except (ClientError, BotoCoreError) as error:
        return f"; {package_arn} could not be marked rolled back ({error}): do not deploy it again"
    return ""


def _rolled_back_by_sagemaker(settled: EndpointSnapshot | None, previous: str) -> bool:
    """SageMaker's auto-rollback ends InService on the config that served before (see `expect_live`)."""
    return settled is not None and settled.status == IN_SERVICE and settled.config_name == previous


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


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
    call_when_visible(
        sm.create_endpoint,
        progress=waiter.progress,
        sleep=waiter.sleep,
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
            f"endpoint {live.name} runs a {experiment.strategy.name} experiment of {experiment.candidate_config}; "
            f"it ends on a canary verdict or with `safedeploy rollback`, then deploy {names.release_config}"
        )


def _start(
    sm: Any,
    live: EndpointSnapshot,
    names: ReleaseNames,
    package: ModelPackage,
    target: DeployTarget,
    waiter: EndpointWaiter,
) -> tuple[str, DeployAction]:
    settings = target.guardrails.settings
    if isinstance(settings.strategy, ExperimentStrategy):
        config_name = start_experiment(sm, live, names, package.arn, settings.strategy, settings)
        return config_name, DeployAction.STARTED
    _require_step_fits_live_fleet(sm, live.name, settings)
    request = guarded_update_request(live.name, names.release_config, settings, target.guardrails.alarm_names)
    resource_tags.mark_guarded(sm, live.arn, names.release_config)
    request |= autoscaling.retained_capacity(settings.autoscaling)
    call_when_visible(sm.update_endpoint, progress=waiter.progress, sleep=waiter.sleep, **request)
    return names.release_config, DeployAction.UPDATED


def _require_step_fits_live_fleet(sm: Any, endpoint_name: str, settings: DeploymentSettings) -> None:
    """With autoscaling the new fleet keeps the live instance count, so a step sized in instances is a share of that
    count, not of the configured one: refuse one SageMaker would refuse (scaling is suspended by now, the count
    holds until the update starts)."""
    current = describe_endpoint(sm, endpoint_name)
    variants = current.variants if current is not None else ()
    live = settings.at_live_size(variants, PRODUCTION_VARIANT)
    outside = live.step_outside_band()
    if outside:
        raise StepOutsideBand(
            f"endpoint {endpoint_name} serves {live.instance_count} instances now (autoscaling): the "
            f"{settings.strategy.name} step of {outside}; nothing was deployed. Size the step in percent "
            "(`*_percent`), or deploy when the fleet is back within range"
        )


def _record_release(sm: Any, live: EndpointSnapshot, package_arn: str) -> None:
    resource_tags.write_tags(
        sm, live.arn, {resource_tags.PREVIOUS_CONFIG: live.config_name, resource_tags.PACKAGE_ARN: package_arn}
    )
