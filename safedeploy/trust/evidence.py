"""What a model package says about its own bytes, read from the registry: the facts an approval binds.

The Train step records the digests of the model artifact, the evaluation report and the deploy tooling on the
package (CustomerMetadataProperties) when it registers it. ApprovalSync copies them into the approval record; every
deploy compares the package, the record and the bytes themselves, so a change to any of them after the approval
is caught before anything is deployed.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from safedeploy import registry
from safedeploy.errors import InputError
from safedeploy.s3_layout import package_group_and_version

_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class PackageEvidence:
    package_arn: str
    group: str
    source_commit: str
    model_data_url: str
    model_sha256: str
    evaluation_uri: str
    evaluation_sha256: str
    tooling_uri: str
    tooling_sha256: str

    @classmethod
    def describe(cls, sm: Any, package_arn: str) -> PackageEvidence:
        """The package's recorded provenance; a package registered without it cannot be vouched for."""
        group, _ = package_group_and_version(package_arn)
        description = sm.describe_model_package(ModelPackageName=package_arn)
        properties = description.get("CustomerMetadataProperties") or {}
        missing = [
            name for name in (registry.COMMIT_PROPERTY, *registry.PROVENANCE_PROPERTIES) if not properties.get(name)
        ]
        if missing:
            raise InputError(
                f"model package {package_arn} records no {', '.join(missing)}: it was not registered by the "
                "platform's Train step, so its bytes cannot be verified"
            )
        containers = (description.get("InferenceSpecification") or {}).get("Containers") or []
        if len(containers) != 1 or not containers[0].get("ModelDataUrl") or containers[0].get("ModelDataSource"):
            raise InputError(
                f"model package {package_arn} must have exactly one container with a ModelDataUrl (and no "
                "ModelDataSource): the URL is what was hashed at registration"
            )
        report = (description.get("ModelMetrics") or {}).get("ModelQuality", {}).get("Statistics", {}).get("S3Uri")
        if not report:
            raise InputError(f"model package {package_arn} has no evaluation report (ModelMetrics.ModelQuality)")
        evidence = cls(
            package_arn=package_arn,
            group=description.get("ModelPackageGroupName") or group,
            source_commit=properties[registry.COMMIT_PROPERTY],
            model_data_url=containers[0]["ModelDataUrl"],
            model_sha256=properties[registry.MODEL_SHA256_PROPERTY],
            evaluation_uri=report,
            evaluation_sha256=properties[registry.EVALUATION_SHA256_PROPERTY],
            tooling_uri=properties[registry.TOOLING_URI_PROPERTY],
            tooling_sha256=properties[registry.TOOLING_SHA256_PROPERTY],
        )
        for name in ("model_sha256", "evaluation_sha256", "tooling_sha256"):
            if not _SHA256.fullmatch(getattr(evidence, name)):
                raise InputError(f"model package {package_arn} records a malformed {name}")
        return evidence

    @classmethod
    def of_group(cls, sm: Any, package_arn: str, group: str) -> PackageEvidence:
        """The evidence of a package of `group`; a package of any other group is an error naming both.

        The group its ARN names is checked before any call: our roles may describe only their own group's versions,
        so asking about another group's package would end in AccessDenied instead of this refusal."""
        named, _ = package_group_and_version(package_arn)
        evidence = None if named != group else cls.describe(sm, package_arn)
        if evidence is None or evidence.group != group:
            actual = named if evidence is None else evidence.group
            raise InputError(f"model package {package_arn} belongs to model package group {actual}, not {group}")
        return evidence

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    def differences(self, other: PackageEvidence) -> list[str]:
        """Names of the fields on which two accounts of the same package disagree."""
        return [name for name, value in self.to_dict().items() if other.to_dict()[name] != value]
