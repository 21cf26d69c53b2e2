"""The SageMaker model registry as the release needs it: register a candidate, read its metrics, track its approval.

Metrics live in the evaluation report the package points to (ModelMetrics.ModelQuality.Statistics), the file an
approver and Model Monitor read too; the copy in CustomerMetadataProperties is a fallback for packages registered
without a report, and a display aid in the console.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from safedeploy.errors import InputError
from safedeploy.s3_layout import split_s3_uri
from safedeploy.write_once import served_artifact_refusal

PENDING = "PendingManualApproval"
APPROVED = "Approved"
REJECTED = "Rejected"
APPROVAL_STATUSES = (PENDING, APPROVED, REJECTED)
CSV = "text/csv"
DEFAULT_INSTANCE_TYPES = ("ml.t2.medium", "ml.m5.large", "ml.m5.xlarge", "ml.c5.large", "ml.c5.xlarge")
# Batch transform takes a different set of instance types (TransformInstanceType has no ml.t2.* and no ml.c5.large).
DEFAULT_TRANSFORM_INSTANCE_TYPES = ("ml.m5.large", "ml.m5.xlarge", "ml.c5.xlarge")
COMMIT_PROPERTY = "commit_id"
# What the Train step recorded about the bytes it registered (hex sha256 digests, and where the tooling bundle is):
# the approval record copies them, and every deploy checks the bytes against them.
MODEL_SHA256_PROPERTY = "model_sha256"
EVALUATION_SHA256_PROPERTY = "evaluation_sha256"
TOOLING_SHA256_PROPERTY = "tooling_sha256"
TOOLING_URI_PROPERTY = "tooling_uri"
PROVENANCE_PROPERTIES = (
    MODEL_SHA256_PROPERTY,
    EVALUATION_SHA256_PROPERTY,
    TOOLING_SHA256_PROPERTY,
    TOOLING_URI_PROPERTY,
)
METRIC_PROPERTY_PREFIX = "metric."
# Report sections of SageMaker's model-quality statistics, one per problem type.
REPORT_SECTIONS = ("binary_classification_metrics", "multiclass_classification_metrics", "regression_metrics")
APPROVAL_DESCRIPTION_LIMIT = 1024


def register_model_package(
    sm: Any,
    *,
    group: str,
    artifacts_bucket: str,
    image_uri: str,
    model_data_url: str,
    report_s3_uri: str,
    metrics: dict[str, float],
    commit_id: str,
    description: str,
    container_environment: Mapping[str, str] | None = None,
    instance_types: Sequence[str] = DEFAULT_INSTANCE_TYPES,
    transform_instance_types: Sequence[str] = DEFAULT_TRANSFORM_INSTANCE_TYPES,
    provenance: Mapping[str, str] | None = None,
    drift_baseline: Mapping[str, str] | None = None,
) -> str:
    """Create a PendingManualApproval version in `group` serving `text/csv`; returns its ARN.

    Nothing registered here is deployable until a person approves it, and nothing is registered whose artifact is
    not under `artifacts_bucket`'s write-once `models/` (`served_artifact_refusal`). `provenance` (the
    `PROVENANCE_PROPERTIES`) is what the approval record binds and every deploy verifies. `drift_baseline` (a
    MetricsSource: ContentType, S3Uri, ContentDigest) becomes DriftCheckBaselines.ModelDataQuality.Statistics, so
    each version carries the reference its drift check compares production against.
    """
    unknown = sorted(set(provenance or {}) - set(PROVENANCE_PROPERTIES))
    if unknown:
        raise InputError(f"unknown provenance properties {unknown}; expected {', '.join(PROVENANCE_PROPERTIES)}")
    _require_s3_uri("model_data_url", model_data_url)
    refusal = served_artifact_refusal(model_data_url, artifacts_bucket)
    if refusal:
        raise InputError(f"{refusal}; nothing was registered")
    _require_s3_uri("report_s3_uri", report_s3_uri)
    if not commit_id.strip():
        raise InputError("commit_id is empty: a package must name the commit it was built from")
    if not instance_types:
        raise InputError("instance_types is empty: name at least one instance type the package can serve on")
    container: dict[str, Any] = {"Image": image_uri, "ModelDataUrl": model_data_url}
    if container_environment:
        container["Environment"] = dict(container_environment)
    optional: dict[str, Any] = {}
    if drift_baseline is not None:
        _require_s3_uri("drift_baseline", drift_baseline["S3Uri"])
        optional["DriftCheckBaselines"] = {"ModelDataQuality": {"Statistics": dict(drift_baseline)}}
    response = sm.create_model_package(
        ModelPackageGroupName=group,
        ModelPackageDescription=description,
        ModelApprovalStatus=PENDING,
        InferenceSpecification={
            "Containers": [container],
            "SupportedContentTypes": [CSV],
            "SupportedResponseMIMETypes": [CSV],
            "SupportedRealtimeInferenceInstanceTypes": list(instance_types),
            "SupportedTransformInstanceTypes": list(transform_instance_types),
        },
        ModelMetrics={"ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": report_s3_uri}}},
        CustomerMetadataProperties={
            COMMIT_PROPERTY: commit_id,
            **_metric_properties(metrics),
            **dict(provenance or {}),
        },
        **optional,
    )
    return str(response["ModelPackageArn"])


def package_metrics(sm: Any, s3: Any, package_arn: str) -> dict[str, float]:
    """Every metric of the package's model-quality report, e.g. ``{"auc": 0.91, "accuracy": 0.85, ...}``.

    Falls back to the `metric.*` CustomerMetadataProperties when the package has no report; a package with neither
    is an error, so a quality gate never passes a candidate whose metrics it could not read.
    """
    description = sm.describe_model_package(ModelPackageName=package_arn)
    report_uri = description.get("ModelMetrics", {}).get("ModelQuality", {}).get("Statistics", {}).get("S3Uri")
    if report_uri:
        return metrics_from_report(_read_json(s3, report_uri), source=report_uri)
    from_properties = _metrics_from_properties(description.get("CustomerMetadataProperties", {}))
    if from_properties:
        return from_properties
    raise InputError(
        f"model package {package_arn} has no ModelMetrics.ModelQuality.Statistics report and no "
        f"{METRIC_PROPERTY_PREFIX}* CustomerMetadataProperties: its metrics are unknown"
    )


def metrics_from_report(report: object, *, source: str = "report") -> dict[str, float]:
    """Metric values of a SageMaker model-quality report (`{"value": v, "standard_deviation": s}` or plain numbers)."""
    if not isinstance(report, Mapping):
        raise InputError(f"{source} is not a model-quality report: not a JSON object")
    section = next((report[name] for name in REPORT_SECTIONS if isinstance(report.get(name), Mapping)), None)
    if section is None:
        raise InputError(f"{source} is not a model-quality report: none of {', '.join(REPORT_SECTIONS)} found")
    metrics: dict[str, float] = {}
    for name, entry in section.items():
        value = entry.get("value") if isinstance(entry, Mapping) else entry
        if isinstance(value, int | float) and not isinstance(value, bool):
            metrics[name] = float(value)
    if not metrics:
        raise InputError(f"{source} holds no metric values")
    return metrics


def drift_baseline_source(sm: Any, package_arn: str) -> dict[str, str] | None:
    """The package's DriftCheckBaselines.ModelDataQuality.Statistics (S3Uri, ContentDigest), or None."""
    description = sm.describe_model_package(ModelPackageName=package_arn)
    source = description.get("DriftCheckBaselines", {}).get("ModelDataQuality", {}).get("Statistics")
    return dict(source) if source else None


def approval_status(sm: Any, package_arn: str) -> str:
    return str(sm.describe_model_package(ModelPackageName=package_arn)["ModelApprovalStatus"])


def latest_package(sm: Any, group: str, status: str | None) -> str | None:
    """ARN of the newest version in `group` (with that approval status when given), or None when there is none."""
    if status is not None:
        _require_status(status)
    request: dict[str, Any] = {
        "ModelPackageGroupName": group,
        "SortBy": "CreationTime",
        "SortOrder": "Descending",
        "MaxResults": 1,
    }
    if status is not None:
        request["ModelApprovalStatus"] = status
    summaries = sm.list_model_packages(**request).get("ModelPackageSummaryList", [])
    return str(summaries[0]["ModelPackageArn"]) if summaries else None


def set_approval(sm: Any, package_arn: str, status: str, description: str) -> None:
    """Record a decision and its reason; a reason longer than SageMaker accepts is shortened, never dropped."""
    _require_status(status)
    if len(description) > APPROVAL_DESCRIPTION_LIMIT:
        description = description[: APPROVAL_DESCRIPTION_LIMIT - 1] + "…"
    sm.update_model_package(ModelPackageArn=package_arn, ModelApprovalStatus=status, ApprovalDescription=description)


def _metric_properties(metrics: Mapping[str, float]) -> dict[str, str]:
    if not metrics:
        raise InputError("metrics is empty: register a package with at least its headline metrics")
    properties: dict[str, str] = {}
    for name, value in metrics.items():
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            raise InputError(f"metric {name!r} must be a finite number, got {value!r}")
        properties[f"{METRIC_PROPERTY_PREFIX}{name}"] = f"{float(value):.6f}"
    return properties


def _metrics_from_properties(properties: Mapping[str, str]) -> dict[str, float]:
    return {
        key.removeprefix(METRIC_PROPERTY_PREFIX): float(value)
        for key, value in properties.items()
        if key.startswith(METRIC_PROPERTY_PREFIX)
    }


def _read_json(s3: Any, uri: str) -> Any:
    bucket, key = split_s3_uri(uri)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    try:
        return json.loads(body)
    except json.JSONDecodeError as error:
        raise InputError(f"{uri} is not JSON: {error}") from error


def _require_s3_uri(name: str, uri: str) -> None:
    try:
        split_s3_uri(uri)
    except ValueError as error:
        raise InputError(f"{name}: {error}") from None


def _require_status(status: str) -> None:
    if status not in APPROVAL_STATUSES:
        raise InputError(f"unknown approval status {status!r}; expected one of {', '.join(APPROVAL_STATUSES)}")
