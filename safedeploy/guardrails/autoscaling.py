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

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from safedeploy.errors import ConfigError
from safedeploy.guardrails.setting_reader import SettingReader

NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
METRIC = "SageMakerVariantInvocationsPerInstance"
POLICY_TYPE = "TargetTrackingScaling"
# Application Auto Scaling takes cooldowns up to a day; longer would freeze scaling for no purpose.
MAX_COOLDOWN_SECONDS = 86_400
# SageMaker caps the instances of one variant far lower in most accounts; the quota is checked by AWS at scale-out.
MAX_INSTANCES = 100

Progress = Callable[[str], None]


@dataclass(frozen=True)
class EndpointAutoscaling:
    """Target tracking on invocations per instance (per minute). Disabled unless `enabled` is true."""

    enabled: bool = False
    min_instances: int = 2
    max_instances: int = 4
    target_invocations_per_instance: float = 1000.0
    scale_in_cooldown_seconds: int = 300
    scale_out_cooldown_seconds: int = 60

    @classmethod
    def read(cls, reader: SettingReader) -> EndpointAutoscaling:
        enabled = reader.boolean("enabled", cls.enabled)
        scaling = cls(
            enabled=enabled,
            min_instances=reader.integer("min_instances", cls.min_instances, 1, MAX_INSTANCES),
            max_instances=reader.integer("max_instances", cls.max_instances, 1, MAX_INSTANCES),
            target_invocations_per_instance=reader.positive_number(
                "target_invocations_per_instance", cls.target_invocations_per_instance, 1_000_000
            ),
            scale_in_cooldown_seconds=reader.integer(
                "scale_in_cooldown_seconds", cls.scale_in_cooldown_seconds, 0, MAX_COOLDOWN_SECONDS
            ),
            scale_out_cooldown_seconds=reader.integer(
                "scale_out_cooldown_seconds", cls.scale_out_cooldown_seconds, 0, MAX_COOLDOWN_SECONDS
            ),
        )
        reader.finish()
        if scaling.max_instances < scaling.min_instances:
            raise ConfigError(
                f"{reader.key_path('max_instances')}: {scaling.max_instances} is below min_instances "
                f"{scaling.min_instances}"
            )
        return scaling

    def check_fleet(self, instance_count: int, guarded_steps: bool, reader: SettingReader) -> None:
        """The configured count must lie in the range, and canary/linear/rolling need two instances at least."""
        if not self.enabled:
            return
        if not self.min_instances <= instance_count <= self.max_instances:
            raise ConfigError(
                f"{reader.key_path('instance_count')}: {instance_count} must lie within autoscaling's "
                f"min_instances-max_instances ({self.min_instances}-{self.max_instances})"
            )
        if guarded_steps and self.min_instances < 2:
            raise ConfigError(
                f"{reader.key_path('autoscaling')}.min_instances: {self.min_instances} is too small for a strategy "
                "whose steps are a fraction of the fleet; it needs at least 2 instances"
            )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


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
