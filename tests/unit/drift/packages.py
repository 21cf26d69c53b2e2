"""A model package as the Train step registers it in the drift tests (artifacts under one run, a drift baseline),
and an endpoint serving it as the Deploy step leaves it (tagged with its package)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pytest

from safedeploy import registry
from safedeploy.drift.baseline import CONTENT_TYPE, sha256_digest
from safedeploy.guardrails import resource_tags
from safedeploy.s3_layout import BASELINE_NAME
from testbed.aws import REGION, SESSION, in_process_aws

GROUP, BUCKET = "demo-dev-models", "demo-dev-artifacts"
# The drift check's working bucket (histograms, state), apart from the artifacts bucket.
DRIFT_BUCKET = "demo-dev-drift-work"
ROLE = "arn:aws:iam::123456789012:role/demo-dev-sagemaker"
REPORT = {"binary_classification_metrics": {"accuracy": {"value": 0.85, "standard_deviation": 0.01}}}


@contextmanager
def drift_account(monkeypatch: pytest.MonkeyPatch, bucket: str = BUCKET, group: str = GROUP) -> Iterator[Any]:
    """moto with the artifacts and drift buckets and the model package group; yields (sagemaker, s3) clients."""
    with in_process_aws(monkeypatch):
        sm, s3 = SESSION.client("sagemaker"), SESSION.client("s3")
        create_bucket_and_group(sm, s3, bucket, group)
        s3.create_bucket(Bucket=DRIFT_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        yield sm, s3


def create_bucket_and_group(sm: Any, s3: Any, bucket: str = BUCKET, group: str = GROUP) -> None:
    """The artifacts bucket (versioned, as the storage stack makes it) and the model package group."""
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    sm.create_model_package_group(ModelPackageGroupName=group)


def store_baseline(s3: Any, body: bytes, *, bucket: str = BUCKET, run: str = "abc/1") -> dict[str, str]:
    """The baseline and an evaluation report under the run, as Train uploads them; the package's MetricsSource."""
    key = f"models/{run}/{BASELINE_NAME}"
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    s3.put_object(Bucket=bucket, Key=f"evaluation/{run}/evaluation.json", Body=json.dumps(REPORT))
    return {"ContentType": CONTENT_TYPE, "S3Uri": f"s3://{bucket}/{key}", "ContentDigest": sha256_digest(body)}


def register_with_baseline(
    sm: Any,
    baseline: Mapping[str, str],
    description: str,
    *,
    group: str = GROUP,
    bucket: str = BUCKET,
    run: str = "abc/1",
    provenance: Mapping[str, str] | None = None,
) -> str:
    return registry.register_model_package(
        sm,
        group=group,
        artifacts_bucket=bucket,
        image_uri="image:1",
        model_data_url=f"s3://{bucket}/models/{run}/model.tar.gz",
        report_s3_uri=f"s3://{bucket}/evaluation/{run}/evaluation.json",
        metrics={"accuracy": 0.85},
        commit_id="abc123",
        description=description,
        drift_baseline=baseline,
        provenance=provenance,
    )


def serve_package(sm: Any, endpoint: str, package_arn: str, name: str = "demo-dev-m1") -> None:
    """`endpoint` serving one AllTraffic variant, tagged with the package it serves."""
    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "image:1"})
    variant = {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant])
    tags = resource_tags.tag_list({resource_tags.PACKAGE_ARN: package_arn})
    sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=name, Tags=tags)
