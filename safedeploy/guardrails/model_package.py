"""A model package as a deploy needs it: its version, its approval and the inference containers it was built with."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from safedeploy.errors import InputError
from safedeploy.guardrails.errors import PackageNotApproved

APPROVED = "Approved"
PACKAGE_ARN_PATTERN = r"arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/[A-Za-z0-9-]{1,63}/\d+"
# ContainerDefinition keys that a ModelPackageContainerDefinition carries over unchanged.
_CONTAINER_KEYS = ("ContainerHostname", "Image", "ModelDataUrl", "ModelDataSource", "Environment")


def require_package_arn(package_arn: str) -> str:
    """Refuse anything but a versioned package ARN before any call, so a typo is a bad input and not an AWS error."""
    if not re.fullmatch(PACKAGE_ARN_PATTERN, package_arn.strip()):
        raise InputError(
            f"{package_arn!r} is not a versioned model package ARN "
            "(arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>)"
        )
    return package_arn.strip()


@dataclass(frozen=True)
class ModelPackage:
    arn: str
    version: int
    approval_status: str
    containers: tuple[dict[str, Any], ...]

    @classmethod
    def describe(cls, sm: Any, package_arn: str) -> ModelPackage:
        description = sm.describe_model_package(ModelPackageName=require_package_arn(package_arn))
        containers = description.get("InferenceSpecification", {}).get("Containers", [])
        if not containers:
            raise InputError(f"model package {package_arn} has no InferenceSpecification containers to deploy")
        return cls(
            arn=description["ModelPackageArn"],
            version=int(description["ModelPackageVersion"]),
            approval_status=description.get("ModelApprovalStatus", "unknown"),
            containers=tuple(containers),
        )

    def require_approved(self) -> None:
        if self.approval_status != APPROVED:
            raise PackageNotApproved(
                f"model package {self.arn} is {self.approval_status}, not {APPROVED}: nothing was deployed. "
                "A person approves a package (the pipeline's Approval action or the model registry); "
                "a deploy never approves one by itself."
            )

    def served_from(self, model_data_url: str) -> ModelPackage:
        """The same package with its model data read from `model_data_url` (a verified copy this environment owns)."""
        if len(self.containers) != 1:
            raise InputError(f"model package {self.arn} has {len(self.containers)} containers; a copy replaces one")
        return replace(self, containers=({**self.containers[0], "ModelDataUrl": model_data_url},))

    def container_definitions(self) -> list[dict[str, Any]]:
        """CreateModel containers: image and model data exactly as the package registered them."""
        return [{key: spec[key] for key in _CONTAINER_KEYS if key in spec} for spec in self.containers]
