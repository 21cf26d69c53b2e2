"""Packages as the Train step registers them (bytes in S3, their digests on the package) and the records
ApprovalSync and Promote write, for tests of everything that verifies them."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from safedeploy import registry
from safedeploy.trust.approval_record import (
    MODEL_DECISION,
    PROMOTION_DECISION,
    ApprovalRecord,
    RecordStore,
)
from safedeploy.trust.evidence import PackageEvidence
from testbed.lambda_fakes import EXECUTION_ID

REGION = "ap-northeast-2"
COMMIT = "0123abcd" * 5
IMAGE = "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/xgboost:1.7-1"
APPROVER = "arn:aws:sts::123456789012:assumed-role/MlApprover/alice"
PROMOTER = "arn:aws:sts::123456789012:assumed-role/ReleaseManager/bob"
REPORT = {"binary_classification_metrics": {"auc": {"value": 0.91}, "accuracy": {"value": 0.85}, "f1": {"value": 0.7}}}


def ensure_bucket(s3: Any, bucket: str) -> None:
    if bucket not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})


def _put(s3: Any, bucket: str, key: str, body: bytes) -> tuple[str, str]:
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    return f"s3://{bucket}/{key}", hashlib.sha256(body).hexdigest()


def register_evidenced(
    sm: Any,
    s3: Any,
    *,
    bucket: str,
    group: str,
    status: str = registry.PENDING,
    model: bytes = b"model bytes",
    commit: str = COMMIT,
    tooling: bytes | None = None,
    model_prefix: str = "models",
) -> str:
    """A package whose model, report and tooling are in `bucket`, with their digests as Train records them
    (`model_prefix`: where the model is, for a package registered around the Train step)."""
    ensure_bucket(s3, bucket)
    if not sm.list_model_package_groups(NameContains=group)["ModelPackageGroupSummaryList"]:
        sm.create_model_package_group(ModelPackageGroupName=group)
    run = len(sm.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"]) + 1
    model_uri, model_sha = _put(s3, bucket, f"{model_prefix}/{commit[:12]}/{run}/model.tar.gz", model)
    report_uri, report_sha = _put(
        s3, bucket, f"evaluation/{commit[:12]}/{run}/evaluation.json", json.dumps(REPORT).encode()
    )
    tooling_uri, tooling_sha = _put(
        s3, bucket, f"tooling/{commit[:12]}/{run}/tooling.tar.gz", tooling or b"tooling " + commit.encode()
    )
    return sm.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus=status,
        InferenceSpecification={
            "Containers": [{"Image": IMAGE, "ModelDataUrl": model_uri}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        ModelMetrics={"ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": report_uri}}},
        CustomerMetadataProperties={
            registry.COMMIT_PROPERTY: commit,
            registry.MODEL_SHA256_PROPERTY: model_sha,
            registry.EVALUATION_SHA256_PROPERTY: report_sha,
            registry.TOOLING_SHA256_PROPERTY: tooling_sha,
            registry.TOOLING_URI_PROPERTY: tooling_uri,
        },
    )["ModelPackageArn"]


def write_record(
    sm: Any,
    s3: Any,
    bucket: str,
    package_arn: str,
    *,
    decision: str = MODEL_DECISION,
    approver: str = APPROVER,
    execution_id: str = "exec-1",
    result: str = "Approved",
) -> ApprovalRecord:
    """The record ApprovalSync (model) or Promote (promotion) writes after reading a person's decision."""
    action = "Approval/ApproveModel" if decision == MODEL_DECISION else "PromoteApproval/ApprovePromotion"
    record = ApprovalRecord(
        decision=decision,
        package_arn=package_arn,
        pipeline_name="demo-dev-pipeline",
        pipeline_execution_id=execution_id,
        approval_action=action,
        action_execution_id=f"{execution_id}-{decision}",
        result=result,
        approver=approver,
        comment="reviewed",
        decided_at="2026-01-01T10:00:00+00:00",
        evidence=PackageEvidence.describe(sm, package_arn),
    )
    RecordStore(s3, bucket).write(record)
    return record


def approve(sm: Any, s3: Any, bucket: str, package_arn: str, **record: Any) -> ApprovalRecord:
    """A person's approval as the pipeline leaves it: the record, then the registry status."""
    written = write_record(sm, s3, bucket, package_arn, **record)
    sm.update_model_package(ModelPackageArn=package_arn, ModelApprovalStatus="Approved")
    return written


def promote_record(sm: Any, s3: Any, bucket: str, package_arn: str, promoter: str = PROMOTER) -> ApprovalRecord:
    return write_record(sm, s3, bucket, package_arn, decision=PROMOTION_DECISION, approver=promoter)


def promotion_parameters(package_arn: str) -> dict[str, str]:
    """The Promote action's UserParameters for `package_arn`, built from COMMIT in the lambda fakes' execution."""
    return {
        "model_package_arn": package_arn,
        "source_commit": COMMIT,
        "pipeline_execution_id": EXECUTION_ID,
    }
