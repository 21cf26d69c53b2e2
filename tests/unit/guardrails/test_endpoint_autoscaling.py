"""Endpoint autoscaling on moto's Application Auto Scaling: registered after the endpoint exists, suspended around
every update as SageMaker's documentation prescribes, restored whatever the outcome, and scaled counts retained."""

from __future__ import annotations

from typing import Any

import pytest

from safedeploy.errors import ConfigError
from safedeploy.guardrails.autoscaling import DIMENSION, METRIC, NAMESPACE, EndpointAutoscaling, retained_capacity
from safedeploy.guardrails.deploy import DeployAction, deploy_package
from safedeploy.guardrails.endpoint_status import EndpointWaiter
from safedeploy.guardrails.errors import DeploymentFailed, StepOutsideBand
from safedeploy.guardrails.settings import DeploymentSettings
from testbed.aws import SESSION
from testbed.deploy_world import ENDPOINT, register_package
from testbed.moto_sagemaker import EndpointUpdates

SCALING = {
    "enabled": True,
    "min_instances": 2,
    "max_instances": 6,
    "target_invocations_per_instance": 700,
    "scale_in_cooldown_seconds": 600,
    "scale_out_cooldown_seconds": 120,
}
RESOURCE = f"endpoint/{ENDPOINT}/variant/AllTraffic"


@pytest.fixture
def aas(aws: None) -> Any:
    return SESSION.client("application-autoscaling")


def _targets(aas: Any) -> list[dict[str, Any]]:
    return aas.describe_scalable_targets(ServiceNamespace=NAMESPACE)["ScalableTargets"]


def _policies(aas: Any) -> list[dict[str, Any]]:
    return aas.describe_scaling_policies(ServiceNamespace=NAMESPACE)["ScalingPolicies"]


def _instances(sm: Any) -> int:
    (variant,) = sm.describe_endpoint(EndpointName=ENDPOINT)["ProductionVariants"]
    return variant["CurrentInstanceCount"]


def _scale_to(sm: Any, count: int) -> None:
    """What Application Auto Scaling does on a traffic peak (through its service-linked role)."""
    sm.update_endpoint_weights_and_capacities(
        EndpointName=ENDPOINT,
        DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": count}],
    )


def test_the_first_deploy_registers_target_tracking_on_invocations_per_instance(
    sm: Any, aas: Any, target_for: Any, waiter: EndpointWaiter
) -> None:
    result = deploy_package(sm, register_package(sm), target_for(autoscaling=SCALING), waiter, aas=aas)
    assert result.action is DeployAction.CREATED
    (target,) = _targets(aas)
    assert (target["ResourceId"], target["ScalableDimension"]) == (RESOURCE, DIMENSION)
    assert (target["MinCapacity"], target["MaxCapacity"]) == (2, 6)
    (policy,) = _policies(aas)
    assert policy["PolicyType"] == "TargetTrackingScaling"
    configuration = policy["TargetTrackingScalingPolicyConfiguration"]
    assert configuration["PredefinedMetricSpecification"] == {"PredefinedMetricType": METRIC}
    assert (configuration["TargetValue"], configuration["ScaleInCooldown"], configuration["ScaleOutCooldown"]) == (
        700.0,
        600,
        120,
    )


@pytest.mark.parametrize("strategy", ["canary", "linear", "all_at_once", "rolling", "shadow", "ab"])
def test_every_strategy_suspends_scaling_during_the_update_and_keeps_the_scaled_fleet(
    sm: Any, aas: Any, target_for: Any, updates: EndpointUpdates, progress: list[str], strategy: str
) -> None:
    target = target_for(strategy=strategy, autoscaling=SCALING)
    seen_while_updating: list[int] = []

    def watch(line: str) -> None:
        progress.append(line)
        if "Updating" in line:
            seen_while_updating.append(len(_targets(aas)))

    waiter = EndpointWaiter(sm, poll_seconds=0, progress=watch, sleep=lambda _: None)
    deploy_package(sm, register_package(sm), target, waiter, aas=aas)
    _scale_to(sm, 5)

    deploy_package(sm, register_package(sm), target, waiter, aas=aas)

    assert seen_while_updating and set(seen_while_updating) == {0}  # deregistered for the whole update
    (request,) = updates.requests_for(ENDPOINT)
    assert request["RetainAllVariantProperties"] is True
    assert request["ExcludeRetainedVariantProperties"] == [{"VariantPropertyType": "DesiredWeight"}]
    assert [t["ResourceId"] for t in _targets(aas)] == [RESOURCE] and len(_policies(aas)) == 1
    if strategy not in ("shadow", "ab"):
        assert _instances(sm) == 5  # the peak's fleet, not the config's 2
        assert any(" of 5 instances per step" in line for line in progress)  # steps are whole live instances


def test_scaling_is_restored_when_sagemaker_rolls_the_update_back(
    sm: Any, aas: Any, target_for: Any, updates: EndpointUpdates, waiter: EndpointWaiter
) -> None:
    target = target_for(autoscaling=SCALING)
    deploy_package(sm, register_package(sm), target, waiter, aas=aas)
    updates.plan(ENDPOINT, "rollback")
    with pytest.raises(DeploymentFailed, match="rolled back"):
        deploy_package(sm, register_package(sm), target, waiter, aas=aas)
    assert [t["ResourceId"] for t in _targets(aas)] == [RESOURCE] and len(_policies(aas)) == 1


def test_without_autoscaling_nothing_is_registered_and_counts_follow_the_config(
    sm: Any, aas: Any, target_for: Any, updates: EndpointUpdates, waiter: EndpointWaiter
) -> None:
    target = target_for()
    deploy_package(sm, register_package(sm), target, waiter, aas=aas)
    deploy_package(sm, register_package(sm), target, waiter, aas=aas)
    assert _targets(aas) == []
    assert "RetainAllVariantProperties" not in updates.requests_for(ENDPOINT)[0]
    assert retained_capacity(EndpointAutoscaling()) == {}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"autoscaling": {**SCALING, "min_instances": 3}}, r"instance_count: 2 must lie within .* \(3-6\)"),
        ({"autoscaling": {**SCALING, "max_instances": 1, "min_instances": 1}}, "max_instances"),
        ({"autoscaling": {**SCALING, "min_instances": 1}}, "min_instances: 1 is too small"),
        ({"autoscaling": {**SCALING, "max_instances": 101}}, r"max_instances: 101 is out of range \(1-100\)"),
        ({"autoscaling": {**SCALING, "target_invocations_per_instance": 0}}, "target_invocations_per_instance"),
        ({"autoscaling": {**SCALING, "scale_in_cooldown_seconds": -1}}, "scale_in_cooldown_seconds"),
        ({"autoscaling": {**SCALING, "enabled": "yes"}}, "enabled: 'yes' must be true or false"),
        ({"autoscaling": {**SCALING, "cooldown": 5}}, "autoscaling.cooldown: unknown key"),
    ],
)
def test_autoscaling_settings_are_validated(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        DeploymentSettings.from_mapping(settings)


def test_all_at_once_may_scale_down_to_one_instance() -> None:
    scaling = {**SCALING, "min_instances": 1}
    settings = DeploymentSettings.from_mapping({"strategy": "all_at_once", "autoscaling": scaling})
    assert settings.autoscaling.min_instances == 1
    assert DeploymentSettings.from_mapping(settings.to_dict()) == settings


def test_a_step_the_live_fleet_puts_outside_sagemakers_band_is_refused(
    sm: Any, aas: Any, target_for: Any, updates: EndpointUpdates, waiter: EndpointWaiter
) -> None:
    """Configured: 1 of 4 instances per linear step (25 %). Scaled out to 12, the retained fleet makes that step 8 %,
    below LINEAR's 10 %: refused before UpdateEndpoint, with scaling restored, instead of SageMaker refusing it."""
    scaling = {**SCALING, "max_instances": 12}
    target = target_for(strategy="linear", instance_count=4, linear_step_instances=1, autoscaling=scaling)
    deploy_package(sm, register_package(sm), target, waiter, aas=aas)
    _scale_to(sm, 12)

    with pytest.raises(StepOutsideBand, match=r"serves 12 instances now .* 1 of 12 instances is 8 % of the fleet"):
        deploy_package(sm, register_package(sm), target, waiter, aas=aas)

    assert updates.requests_for(ENDPOINT) == []
    assert [t["ResourceId"] for t in _targets(aas)] == [RESOURCE] and len(_policies(aas)) == 1
    _scale_to(sm, 6)  # back within range: 1 of 6 is 17 %
    assert deploy_package(sm, register_package(sm), target, waiter, aas=aas).action is DeployAction.UPDATED


def test_a_step_in_percent_holds_on_any_live_fleet(
    sm: Any, aas: Any, target_for: Any, updates: EndpointUpdates, waiter: EndpointWaiter
) -> None:
    scaling = {**SCALING, "max_instances": 12}
    target = target_for(strategy="linear", instance_count=4, linear_step_percent=25, autoscaling=scaling)
    deploy_package(sm, register_package(sm), target, waiter, aas=aas)
    _scale_to(sm, 12)
    assert deploy_package(sm, register_package(sm), target, waiter, aas=aas).action is DeployAction.UPDATED
