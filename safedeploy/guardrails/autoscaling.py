"""Application Auto Scaling of the endpoint's production variant, kept across every deployment.

Settings (`endpoint.autoscaling` in cdk.json) give the instance range, the target of SageMaker's predefined metric
`SageMakerVariantInvocationsPerInstance` (invocations per instance per minute) and the cooldowns. The deploy step
registers the scalable target once the endpoint exists (no endpoint exists at `cdk deploy` time).

SageMaker's documented procedure for updating an endpoint that uses auto scaling is followed to the letter:
deregister the variant as a scalable target (and delete its policy) before UpdateEndpoint, wait until the endpoint
is InService, then register it again and put the policy back. The update itself asks SageMaker to retain the live
instance count (`RetainAllVariantProperties`, with `DesiredWeight` excluded so a new config's weights apply), so a
fleet scaled out for a traffic peak is not shrunk back to the config's count by the release. Whatever the update's
outcome (promoted, rolled back, failed), the live variant is registered again: a deploy never leaves scaling off.

No boto3 at import: synth reads the settings part of this module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import ValidationInfo, field_validator

from safedeploy.errors import ConfigError
from safedeploy.section_fields import Flag, Integer, PositiveNumber
from safedeploy.sections import Section, rule

NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
METRIC = "SageMakerVariantInvocationsPerInstance"
POLICY_TYPE = "TargetTrackingScaling"
# Application Auto Scaling takes cooldowns up to a day; longer would freeze scaling for no purpose.
MAX_COOLDOWN_SECONDS = 86_400
# SageMaker caps the instances of one variant far lower in most accounts; the quota is checked by AWS at scale-out.
MAX_INSTANCES = 100

Progress = Callable[[str], None]


class EndpointAutoscaling(Section):
    """Target tracking on invocations per instance (per minute). Disabled unless `enabled` is true."""

    enabled: Flag = False
    min_instances: Integer(1, MAX_INSTANCES) = 2
    max_instances: Integer(1, MAX_INSTANCES) = 4
    target_invocations_per_instance: PositiveNumber(1_000_000) = 1000.0
    scale_in_cooldown_seconds: Integer(0, MAX_COOLDOWN_SECONDS) = 300
    scale_out_cooldown_seconds: Integer(0, MAX_COOLDOWN_SECONDS) = 60

    @field_validator("max_instances")
    @classmethod
    def _range(cls, high: int, info: ValidationInfo) -> int:
        low = info.data.get("min_instances", cls.model_fields["min_instances"].default)
        if high < low:
            raise rule(f"{high} is below min_instances {low}")
        return high

    def check_fleet(self, instance_count: int, guarded_steps: bool, path: str) -> None:
        """The configured count must lie in the range, and canary/linear/rolling need two instances at least."""
        if not self.enabled:
            return
        if not self.min_instances <= instance_count <= self.max_instances:
            raise ConfigError(
                f"{path}.instance_count: {instance_count} must lie within autoscaling's "
                f"min_instances-max_instances ({self.min_instances}-{self.max_instances})"
            )
        if guarded_steps and self.min_instances < 2:
            raise ConfigError(
                f"{path}.autoscaling.min_instances: {self.min_instances} is too small for a strategy "
                "whose steps are a fraction of the fleet; it needs at least 2 instances"
            )


def resource_id(endpoint_name: str, variant_name: str) -> str:
    return f"endpoint/{endpoint_name}/variant/{variant_name}"


def policy_name(endpoint_name: str, variant_name: str) -> str:
    return f"{endpoint_name}-{variant_name}-invocations"


def retained_capacity(scaling: EndpointAutoscaling) -> dict[str, Any]:
    """UpdateEndpoint options that keep the live (scaled) instance count instead of the config's."""
    if not scaling.enabled:
        return {}
    return {
        "RetainAllVariantProperties": True,
        "ExcludeRetainedVariantProperties": [{"VariantPropertyType": "DesiredWeight"}],
    }


def register(aas: Any, endpoint_name: str, variant_name: str, scaling: EndpointAutoscaling) -> None:
    """Register the variant and put its target-tracking policy (both calls are idempotent upserts)."""
    target = resource_id(endpoint_name, variant_name)
    aas.register_scalable_target(
        ServiceNamespace=NAMESPACE,
        ResourceId=target,
        ScalableDimension=DIMENSION,
        MinCapacity=scaling.min_instances,
        MaxCapacity=scaling.max_instances,
    )
    aas.put_scaling_policy(
        PolicyName=policy_name(endpoint_name, variant_name),
        ServiceNamespace=NAMESPACE,
        ResourceId=target,
        ScalableDimension=DIMENSION,
        PolicyType=POLICY_TYPE,
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": scaling.target_invocations_per_instance,
            "PredefinedMetricSpecification": {"PredefinedMetricType": METRIC},
            "ScaleInCooldown": scaling.scale_in_cooldown_seconds,
            "ScaleOutCooldown": scaling.scale_out_cooldown_seconds,
        },
    )


def deregister(aas: Any, endpoint_name: str) -> list[str]:
    """Delete the policies and deregister every scalable variant of the endpoint; the resource ids it removed."""
    prefix = f"endpoint/{endpoint_name}/variant/"
    targets = [
        target["ResourceId"]
        for page in aas.get_paginator("describe_scalable_targets").paginate(ServiceNamespace=NAMESPACE)
        for target in page["ScalableTargets"]
        if target["ResourceId"].startswith(prefix) and target["ScalableDimension"] == DIMENSION
    ]
    for target in targets:
        policies = aas.describe_scaling_policies(
            ServiceNamespace=NAMESPACE, ResourceId=target, ScalableDimension=DIMENSION
        )["ScalingPolicies"]
        for policy in policies:
            aas.delete_scaling_policy(
                PolicyName=policy["PolicyName"],
                ServiceNamespace=NAMESPACE,
                ResourceId=target,
                ScalableDimension=DIMENSION,
            )
        aas.deregister_scalable_target(ServiceNamespace=NAMESPACE, ResourceId=target, ScalableDimension=DIMENSION)
    return targets


@contextmanager
def suspended(
    aas: Any | None,
    endpoint_name: str,
    variant_name: str,
    scaling: EndpointAutoscaling,
    progress: Progress = print,
) -> Iterator[None]:
    """Scaling off around one endpoint update, and on again afterwards whatever the update's outcome.

    The body must return only once the endpoint has settled (InService, rolled back or failed): registering while
    it is Updating would be refused.
    """
    if aas is None or not scaling.enabled:
        yield
        return
    removed = deregister(aas, endpoint_name)
    if removed:
        progress(f"autoscaling of {', '.join(removed)} suspended for the update")
    try:
        yield
    except BaseException:
        # The update's own failure is the one to report; a failed re-registration is only announced with it.
        try:
            register(aas, endpoint_name, variant_name, scaling)
        except Exception as error:
            progress(f"autoscaling NOT restored on {endpoint_name} ({error}); deploy again once it is InService")
        raise
    register(aas, endpoint_name, variant_name, scaling)
    progress(
        f"autoscaling of {resource_id(endpoint_name, variant_name)}: {scaling.min_instances}-"
        f"{scaling.max_instances} instances, target {scaling.target_invocations_per_instance:g} invocations "
        "per instance per minute"
    )


def live_instance_count(variants: Any, variant_name: str) -> int | None:
    """The variant's current instance count from DescribeEndpoint: with autoscaling it, not the config's count,
    is the fleet whose percentage a canary or linear step takes (the green fleet retains it)."""
    for variant in variants:
        if variant.name == variant_name:
            return variant.current_instance_count
    return None
