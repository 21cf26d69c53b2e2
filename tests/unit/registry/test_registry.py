from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from safedeploy import registry
from testbed.aws import REGION, SESSION, in_process_aws

GROUP = "demo-dev-models"
BUCKET = "demo-dev-artifacts"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with in_process_aws(monkeypatch):
        yield


@pytest.fixture
def sm(aws: None) -> Any:
    client = SESSION.client("sagemaker")
    client.create_model_package_group(ModelPackageGroupName=GROUP)
    return client


@pytest.fixture
def s3(aws: None) -> Any:
    client = SESSION.client("s3")
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    return client


REPORT_URI = f"s3://{BUCKET}/evaluation/abc/1/evaluation.json"
REPORT = {
    "binary_classification_metrics": {
        "auc": {"value": 0.91, "standard_deviation": 0.01},
        "accuracy": {"value": 0.85, "standard_deviation": 0.01},
        "f1": {"value": 0.8, "standard_deviation": 0.02},
        "confusion_matrix": {"0": {"0": 1, "1": 0}, "1": {"0": 0, "1": 1}},
    }
}


def register(sm: Any, **overrides: Any) -> str:
    arguments: dict[str, Any] = {
        "group": GROUP,
        "artifacts_bucket": BUCKET,
        "image_uri": "image:1",
        "model_data_url": f"s3://{BUCKET}/models/abc/1/model.tar.gz",
        "report_s3_uri": REPORT_URI,
        "metrics": {"auc": 0.91, "accuracy": 0.85, "f1": 0.8},
        "commit_id": "abc123",
        "description": "candidate",
        **overrides,
    }
    return registry.register_model_package(sm, **arguments)


def test_a_registered_package_waits_for_a_person_with_its_metrics_and_commit(sm: Any) -> None:
    arn = register(sm, container_environment={"SAGEMAKER_PROGRAM": "inference.py"})

    description = sm.describe_model_package(ModelPackageName=arn)
    assert description["ModelApprovalStatus"] == registry.PENDING
    specification = description["InferenceSpecification"]
    assert specification["Containers"] == [
        {
            "Image": "image:1",
            "ModelDataUrl": f"s3://{BUCKET}/models/abc/1/model.tar.gz",
            "Environment": {"SAGEMAKER_PROGRAM": "inference.py"},
        }
    ]
    assert specification["SupportedContentTypes"] == specification["SupportedResponseMIMETypes"] == ["text/csv"]
    assert "ml.m5.large" in specification["SupportedRealtimeInferenceInstanceTypes"]
    transform_types = sm.meta.service_model.shape_for("TransformInstanceType").enum
    assert specification["SupportedTransformInstanceTypes"]
    assert set(specification["SupportedTransformInstanceTypes"]) <= set(transform_types)
    assert description["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"] == REPORT_URI
    assert description["CustomerMetadataProperties"] == {
        "commit_id": "abc123",
        "metric.auc": "0.910000",
        "metric.accuracy": "0.850000",
        "metric.f1": "0.800000",
    }


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"model_data_url": "https://example.com/model.tar.gz"}, "model_data_url: .* is not an s3://bucket/key URI"),
        ({"report_s3_uri": "s3://bucket-only"}, "report_s3_uri"),
        ({"commit_id": " "}, "commit_id is empty"),
        ({"metrics": {}}, "metrics is empty"),
        ({"metrics": {"auc": float("nan")}}, "metric 'auc' must be a finite number"),
        ({"instance_types": ()}, "instance_types is empty"),
        (
            {"model_data_url": f"s3://{BUCKET}/pipelines/models/model.tar.gz"},
            rf"^model artifact s3://{BUCKET}/pipelines/models/model.tar.gz is not under s3://{BUCKET}/models/, .*; "
            "nothing was registered$",
        ),
        ({"model_data_url": "s3://other-bucket/models/abc/model.tar.gz"}, f"is not under s3://{BUCKET}/models/"),
        ({"model_data_url": f"s3://{BUCKET}/models/../pipelines/model.tar.gz"}, "this environment's write-once"),
    ],
)
def test_registration_refuses_bad_input_before_calling_sagemaker(
    sm: Any, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        register(sm, **overrides)
    assert registry.latest_package(sm, GROUP, None) is None


def test_package_metrics_come_from_the_evaluation_report(sm: Any, s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="evaluation/abc/1/evaluation.json", Body=json.dumps(REPORT))
    arn = register(sm, metrics={"auc": 0.5})  # the report, not the display copy, is the source of truth

    assert registry.package_metrics(sm, s3, arn) == {"auc": 0.91, "accuracy": 0.85, "f1": 0.8}


def test_package_metrics_fall_back_to_metadata_when_no_report_is_attached(sm: Any, s3: Any) -> None:
    arn = sm.create_model_package(
        ModelPackageGroupName=GROUP,
        InferenceSpecification={
            "Containers": [{"Image": "image:1"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        CustomerMetadataProperties={"commit_id": "abc", "metric.auc": "0.88", "metric.f1": "0.7"},
    )["ModelPackageArn"]

    assert registry.package_metrics(sm, s3, arn) == {"auc": 0.88, "f1": 0.7}


def test_package_metrics_refuse_a_package_without_any(sm: Any, s3: Any) -> None:
    arn = sm.create_model_package(
        ModelPackageGroupName=GROUP,
        InferenceSpecification={
            "Containers": [{"Image": "image:1"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]

    with pytest.raises(ValueError, match="its metrics are unknown"):
        registry.package_metrics(sm, s3, arn)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "is not JSON"),
        (json.dumps({"metrics": {}}).encode(), "not a model-quality report"),
        (b"[1, 2]", "not a model-quality report: not a JSON object"),
        (json.dumps({"binary_classification_metrics": {"auc": {"value": "high"}}}).encode(), "no metric values"),
    ],
)
def test_package_metrics_refuse_an_unreadable_report(sm: Any, s3: Any, body: bytes, message: str) -> None:
    s3.put_object(Bucket=BUCKET, Key="evaluation/abc/1/evaluation.json", Body=body)
    arn = register(sm)

    with pytest.raises(ValueError, match=message):
        registry.package_metrics(sm, s3, arn)


def test_latest_package_is_the_newest_with_the_status_asked_for(sm: Any) -> None:
    assert registry.latest_package(sm, GROUP, None) is None
    first, second, third = register(sm), register(sm), register(sm)
    registry.set_approval(sm, first, registry.APPROVED, "approved by alice")
    registry.set_approval(sm, second, registry.APPROVED, "approved by bob")

    assert registry.latest_package(sm, GROUP, None) == third
    assert registry.latest_package(sm, GROUP, registry.APPROVED) == second
    assert registry.latest_package(sm, GROUP, registry.PENDING) == third
    assert registry.latest_package(sm, GROUP, registry.REJECTED) is None


def test_set_approval_records_the_decision_and_its_reason(sm: Any) -> None:
    arn = register(sm)

    registry.set_approval(sm, arn, registry.REJECTED, "x" * 2000)

    assert registry.approval_status(sm, arn) == registry.REJECTED
    description = sm.describe_model_package(ModelPackageName=arn)["ApprovalDescription"]
    assert len(description) == registry.APPROVAL_DESCRIPTION_LIMIT and description.endswith("…")


@pytest.mark.parametrize("call", ["set_approval", "latest_package"])
def test_unknown_statuses_are_refused(sm: Any, call: str) -> None:
    with pytest.raises(ValueError, match="unknown approval status 'approved'"):
        if call == "set_approval":
            registry.set_approval(sm, register(sm), "approved", "typo")
        else:
            registry.latest_package(sm, GROUP, "approved")
