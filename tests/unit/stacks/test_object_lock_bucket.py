"""Object Lock only on the bucket nothing but this project's own code writes.

S3: "The Content-MD5 or x-amz-sdk-checksum-algorithm header is required for any request to upload an object with a
retention period configured using Amazon S3 Object Lock". Nothing documents CodePipeline's artifact store or
CodeBuild's cache sending it, and every version written under a default retention is kept for the whole period, so
they write to a bucket without Object Lock; the record and artifact writers (boto3) send a checksum (checked in
tests/unit/registry/test_write_once_uploads.py).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from stacks.stage import EnvironmentStage

ENVS = ("dev", "prod")


def bucket_ref(value: Any) -> str:
    """The logical id (or export) a template uses to name a bucket."""
    return json.dumps(value)


@pytest.fixture(scope="session")
def templates(stages: dict[str, EnvironmentStage]) -> dict[str, dict[str, dict[str, Any]]]:
    return {
        env: {
            "storage": Template.from_stack(stage.storage).to_json(),
            "pipeline": Template.from_stack(stage.pipeline).to_json(),
        }
        for env, stage in stages.items()
    }


def locked_buckets(storage: dict[str, Any]) -> list[str]:
    return [
        logical_id
        for logical_id, resource in storage["Resources"].items()
        if resource["Type"] == "AWS::S3::Bucket" and resource["Properties"].get("ObjectLockEnabled")
    ]


@pytest.mark.parametrize("env", ENVS)
def test_the_pipeline_store_and_build_cache_are_not_the_locked_bucket(
    templates: dict[str, dict[str, dict[str, Any]]], env: str
) -> None:
    storage, pipeline = templates[env]["storage"], templates[env]["pipeline"]
    locked = locked_buckets(storage)
    assert len(locked) == (1 if env == "prod" else 0)  # prod locks its approved artifacts (artifact_lock_days)
    (store,) = [
        r["Properties"]["ArtifactStore"]["Location"]
        for r in pipeline["Resources"].values()
        if r["Type"] == "AWS::CodePipeline::Pipeline"
    ]
    caches = [
        r["Properties"]["Cache"]["Location"]
        for r in pipeline["Resources"].values()
        if r["Type"] == "AWS::CodeBuild::Project"
    ]
    assert caches
    for location in (store, *caches):
        assert "PipelineWork" in bucket_ref(location), location
        assert not any(logical_id in bucket_ref(location) for logical_id in locked), location


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize(("bucket", "log_prefix"), [("PipelineWork", "pipeline-work/"), ("DriftWork", "drift-work/")])
def test_the_working_buckets_are_encrypted_versioned_logged_and_tls_only(
    templates: dict[str, dict[str, dict[str, Any]]], env: str, bucket: str, log_prefix: str
) -> None:
    storage = templates[env]["storage"]
    (logical_id,) = [
        i for i, r in storage["Resources"].items() if r["Type"] == "AWS::S3::Bucket" and i.startswith(bucket)
    ]
    props = storage["Resources"][logical_id]["Properties"]
    assert "ObjectLockEnabled" not in props
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["LoggingConfiguration"]["LogFilePrefix"] == log_prefix
    (policy,) = [
        r["Properties"]["PolicyDocument"]["Statement"]
        for r in storage["Resources"].values()
        if r["Type"] == "AWS::S3::BucketPolicy" and r["Properties"]["Bucket"] == {"Ref": logical_id}
    ]
    assert any(
        s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}} for s in policy
    )
