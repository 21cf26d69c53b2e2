"""The Model and endpoint configs of a package version, created once and recognised by their package tag.

Creating them is idempotent so a deploy can be retried (after a rollback, a timeout, a failed build) without
duplicates; a name that already belongs to another package is refused instead of silently reused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from botocore.exceptions import ClientError

from safedeploy.guardrails import resource_tags
from safedeploy.guardrails.errors import DeploymentFailed
from safedeploy.guardrails.model_package import ModelPackage
from safedeploy.guardrails.release_names import PRODUCTION_VARIANT, ReleaseNames
from safedeploy.guardrails.settings import DeploymentSettings


def production_variant(name: str, model_name: str, settings: DeploymentSettings, weight: float) -> dict[str, Any]:
    return {
        "VariantName": name,
        "ModelName": model_name,
        "InstanceType": settings.instance_type,
        "InitialInstanceCount": settings.instance_count,
        "InitialVariantWeight": weight,
    }


def _not_found(error: ClientError) -> bool:
    return "Could not find" in error.response.get("Error", {}).get("Message", "")


def _require_same_package(sm: Any, kind: str, name: str, arn: str, package_arn: str) -> None:
    owner = resource_tags.read_tags(sm, arn).get(resource_tags.PACKAGE_ARN)
    if owner != package_arn:
        raise DeploymentFailed(
            f"{kind} {name} already exists for {owner or 'an untagged deployment'}, not {package_arn}; "
            f"delete it or deploy from the package it was built from"
        )


def ensure_model(sm: Any, names: ReleaseNames, package: ModelPackage, execution_role_arn: str) -> None:
    try:
        existing = sm.describe_model(ModelName=names.model_name)
    except ClientError as error:
        if not _not_found(error):
            raise
    else:
        _require_same_package(sm, "model", names.model_name, existing["ModelArn"], package.arn)
        return
    containers = package.container_definitions()
    placement = {"PrimaryContainer": containers[0]} if len(containers) == 1 else {"Containers": containers}
    sm.create_model(
        ModelName=names.model_name,
        ExecutionRoleArn=execution_role_arn,
        Tags=resource_tags.tag_list({resource_tags.PACKAGE_ARN: package.arn}),
        **placement,
    )


def ensure_endpoint_config(
    sm: Any,
    name: str,
    package_arn: str,
    production_variants: Sequence[Mapping[str, Any]],
    shadow_variants: Sequence[Mapping[str, Any]] = (),
    extra_tags: Mapping[str, str] | None = None,
) -> None:
    try:
        existing = sm.describe_endpoint_config(EndpointConfigName=name)
    except ClientError as error:
        if not _not_found(error):
            raise
    else:
        _require_same_package(sm, "endpoint config", name, existing["EndpointConfigArn"], package_arn)
        return
    request: dict[str, Any] = {
        "EndpointConfigName": name,
        "ProductionVariants": [dict(variant) for variant in production_variants],
        "Tags": resource_tags.tag_list({resource_tags.PACKAGE_ARN: package_arn, **(extra_tags or {})}),
    }
    if shadow_variants:
        request["ShadowProductionVariants"] = [dict(variant) for variant in shadow_variants]
    sm.create_endpoint_config(**request)


def ensure_release(
    sm: Any, names: ReleaseNames, package: ModelPackage, execution_role_arn: str, settings: DeploymentSettings
) -> None:
    """The version's model and its single-variant endpoint config (what serves it alone, and what promotion uses)."""
    ensure_model(sm, names, package, execution_role_arn)
    ensure_endpoint_config(
        sm,
        names.release_config,
        package.arn,
        [production_variant(PRODUCTION_VARIANT, names.model_name, settings, weight=1.0)],
    )


def serving_variant(sm: Any, config_name: str) -> dict[str, Any]:
    """The single production variant of a release config, to be served beside a candidate unchanged."""
    variants = sm.describe_endpoint_config(EndpointConfigName=config_name)["ProductionVariants"]
    if len(variants) != 1:
        raise DeploymentFailed(
            f"endpoint config {config_name} has {len(variants)} production variants; an experiment starts from a "
            "config that serves one model"
        )
    return dict(variants[0])


def config_tags(sm: Any, config_name: str) -> dict[str, str]:
    arn = sm.describe_endpoint_config(EndpointConfigName=config_name)["EndpointConfigArn"]
    return resource_tags.read_tags(sm, arn)
