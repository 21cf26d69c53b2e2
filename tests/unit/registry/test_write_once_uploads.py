"""Write-once objects on moto: a second write of a key fails with one line and the first stays as it was."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from safedeploy import write_once
from safedeploy.build_steps.artifacts import upload_encrypted
from safedeploy.canary.outputs import write_record
from safedeploy.write_once import AlreadyWritten, put_new_object, upload_new_file
from testbed.aws import REGION, SESSION, in_process_aws

BUCKET = "demo-dev-artifacts"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with in_process_aws(monkeypatch):
        client = SESSION.client("s3")
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        yield client


def body(s3: Any, key: str) -> bytes:
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()


def test_a_record_is_never_replaced(s3: Any) -> None:
    key = "decisions/e/d/20260101T000000Z-CONTINUE.json"
    assert write_record(s3, BUCKET, key, {"decision": "CONTINUE"}) == f"s3://{BUCKET}/{key}"
    # A replayed minute with the same verdict finds its own record; a different verdict is refused.
    assert write_record(s3, BUCKET, key, {"decision": "CONTINUE"}) == f"s3://{BUCKET}/{key}"
    with pytest.raises(AlreadyWritten, match=f"^s3://{BUCKET}/{key} already exists; decisions/ is write-once"):
        write_record(s3, BUCKET, key, {"decision": "PROMOTE"})
    assert b'"CONTINUE"' in body(s3, key)
    versions = s3.list_object_versions(Bucket=BUCKET, Prefix=key).get("Versions", [])
    assert len(versions) <= 1


def test_an_uploaded_model_is_never_replaced(s3: Any, tmp_path: Path) -> None:
    model = tmp_path / "model.tar.gz"
    model.write_bytes(b"approved bytes")
    key = "models/0123456789ab/7/model.tar.gz"
    kms = "arn:aws:kms:ap-northeast-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    upload_encrypted(s3, model, bucket=BUCKET, key=key, kms_key_arn=kms)
    model.write_bytes(b"tampered bytes")
    with pytest.raises(AlreadyWritten, match="models/ is write-once"):
        upload_encrypted(s3, model, bucket=BUCKET, key=key, kms_key_arn=kms)
    assert body(s3, key) == b"approved bytes"
    assert s3.head_object(Bucket=BUCKET, Key=key)["ServerSideEncryption"] == "aws:kms"


def test_a_large_upload_completes_only_as_a_new_object(
    s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above one PutObject's limit the upload is multipart; its completion carries the condition."""
    monkeypatch.setattr(write_once, "SINGLE_PUT_LIMIT", 1024**2)
    monkeypatch.setattr(write_once, "PART_SIZE", 5 * 1024**2)  # S3's minimum part size
    large = tmp_path / "large.bin"
    large.write_bytes(b"a" * (6 * 1024**2))
    key = "models/large/1/model.tar.gz"
    upload_new_file(s3, large, bucket=BUCKET, key=key)
    with pytest.raises(AlreadyWritten):
        upload_new_file(s3, large, bucket=BUCKET, key=key)
    assert s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"] == 6 * 1024**2
    assert not s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads"), "a refused upload leaves no parts behind"


def test_other_errors_are_not_mistaken_for_an_existing_key(s3: Any) -> None:
    with pytest.raises(Exception, match="NoSuchBucket"):
        put_new_object(s3, bucket="no-such-bucket", key="models/x", body=b"x")


def test_every_upload_carries_the_checksum_object_lock_requires(
    s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S3 refuses an upload to a bucket with an Object Lock retention without Content-MD5 or a checksum header; the
    pinned botocore (requirements.txt) adds one to PutObject and UploadPart by default, for every writer here."""
    sent: list[tuple[str, dict[str, str]]] = []

    def record(request: Any, **_: Any) -> None:
        sent.append((request.context.get("operation_name", ""), dict(request.headers)))

    s3.meta.events.register("before-send.s3.PutObject", record)
    s3.meta.events.register("before-send.s3.UploadPart", record)
    monkeypatch.setattr(write_once, "SINGLE_PUT_LIMIT", 1024**2)
    monkeypatch.setattr(write_once, "PART_SIZE", 5 * 1024**2)
    large = tmp_path / "large.bin"
    large.write_bytes(b"a" * (6 * 1024**2))
    put_new_object(s3, bucket=BUCKET, key="rolled-back/1/g/1/x.mark.json", body=b"{}")
    write_record(s3, BUCKET, "decisions/e/d/20260101T000000Z-CONTINUE.json", {"decision": "CONTINUE"})
    upload_new_file(s3, large, bucket=BUCKET, key="models/large/2/model.tar.gz")
    assert len(sent) == 4  # two PutObject, two UploadPart
    for _, headers in sent:
        names = {name.lower() for name in headers}
        assert (
            "content-md5" in names
            or "x-amz-sdk-checksum-algorithm" in names
            or any(name.startswith("x-amz-checksum-") for name in names)
        ), headers
