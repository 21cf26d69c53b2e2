"""What a deploy verifies before any change: records, evidence, bytes, and the copy an environment serves from."""

from __future__ import annotations

from typing import Any

import pytest

from safedeploy.drift.baseline import sha256_digest
from safedeploy.s3_layout import served_baseline_location
from safedeploy.trust.approval_record import RecordStore
from safedeploy.trust.deployable import OwnBucket, ReleaseRefused, take_ownership, verify_package
from serving.gateway import drift_histograms
from testbed.evidence import approve, ensure_bucket, register_evidenced, write_record
from testbed.lambda_fakes import GROUP, SESSION

DEV, PROD = "demo-dev-artifacts", "demo-prod-artifacts"


@pytest.fixture
def s3(sagemaker: Any) -> Any:
    client = SESSION.client("s3")
    for bucket in (DEV, PROD):
        ensure_bucket(client, bucket)
    return client


def test_a_rejected_record_is_refused(sagemaker: Any, s3: Any) -> None:
    package = register_evidenced(sagemaker, s3, bucket=DEV, group=GROUP)
    write_record(sagemaker, s3, DEV, package, result="Rejected")
    with pytest.raises(ReleaseRefused, match=r"was Rejected by .*alice; nothing was deployed"):
        verify_package(sagemaker, package, group=GROUP, records=RecordStore(s3, DEV))


def test_a_record_of_other_evidence_is_refused(sagemaker: Any, s3: Any) -> None:
    """The package's recorded digests were changed after the approval (UpdateModelPackage metadata)."""
    package = register_evidenced(sagemaker, s3, bucket=DEV, group=GROUP)
    approve(sagemaker, s3, DEV, package)
    sagemaker.update_model_package(ModelPackageArn=package, CustomerMetadataProperties={"model_sha256": "f" * 64})
    with pytest.raises(ReleaseRefused, match=r"changed since it was approved \(model_sha256 differ from s3://"):
        verify_package(sagemaker, package, group=GROUP, records=RecordStore(s3, DEV))


def test_a_package_without_provenance_is_refused(sagemaker: Any, s3: Any) -> None:
    sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    package = sagemaker.create_model_package(ModelPackageGroupName=GROUP, ModelApprovalStatus="Approved")[
        "ModelPackageArn"
    ]
    with pytest.raises(ReleaseRefused, match=r"records no commit_id, model_sha256.*bytes cannot be verified"):
        verify_package(sagemaker, package, group=GROUP, records=RecordStore(s3, DEV))


def test_the_copy_is_made_once_and_a_tampered_copy_is_never_served(sagemaker: Any, s3: Any) -> None:
    package = register_evidenced(sagemaker, s3, bucket=DEV, group=GROUP)
    approve(sagemaker, s3, DEV, package)
    deployable = verify_package(sagemaker, package, group=GROUP, records=RecordStore(s3, DEV))
    own = OwnBucket(PROD, SESSION.client("kms").create_key()["KeyMetadata"]["Arn"])

    copy = take_ownership(s3, deployable, own)
    assert take_ownership(s3, deployable, own) == copy
    key = copy.removeprefix(f"s3://{PROD}/")
    assert s3.head_object(Bucket=PROD, Key=key)["ServerSideEncryption"] == "aws:kms"
    assert len(s3.list_objects_v2(Bucket=PROD)["Contents"]) == 2  # the artifact and the evaluation report

    s3.put_object(Bucket=PROD, Key=key, Body=b"swapped in prod")
    with pytest.raises(ReleaseRefused, match=f"the copy of the model artifact {copy} has sha256 "):
        take_ownership(s3, deployable, own)


def test_a_promoted_package_s_drift_baseline_is_copied_verified_and_read_from_the_copy(sagemaker: Any, s3: Any) -> None:
    """prod's gateway and drift job cannot read dev's bucket: the deploy copies the baseline beside the artifact,
    by the digest the package records, and both readers resolve that copy (the gateway with the same rule, from
    the module its image carries)."""
    package = register_evidenced(sagemaker, s3, bucket=DEV, group=GROUP)
    approve(sagemaker, s3, DEV, package)
    deployable = verify_package(sagemaker, package, group=GROUP, records=RecordStore(s3, DEV))
    own = OwnBucket(PROD, SESSION.client("kms").create_key()["KeyMetadata"]["Arn"])
    body = b'{"schema": "safedeploy.drift-baseline/1"}'
    s3.put_object(Bucket=DEV, Key="models/abc/7/drift-baseline.json", Body=body)
    source = {"S3Uri": f"s3://{DEV}/models/abc/7/drift-baseline.json", "ContentDigest": sha256_digest(body)}

    take_ownership(s3, deployable, own, source)
    bucket, key = served_baseline_location(source["S3Uri"], package, PROD)
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body
    assert drift_histograms.served_baseline_location is served_baseline_location
    assert served_baseline_location(source["S3Uri"], package, DEV) == (DEV, "models/abc/7/drift-baseline.json")

    tampered = {**source, "ContentDigest": sha256_digest(b"another baseline")}
    fresh = OwnBucket("demo-staging-artifacts", own.kms_key_arn)
    ensure_bucket(s3, fresh.bucket)
    with pytest.raises(ReleaseRefused, match="drift baseline s3://"):
        take_ownership(s3, deployable, fresh, tampered)
