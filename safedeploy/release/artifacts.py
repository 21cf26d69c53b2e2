"""Uploads of release artifacts, always encrypted with the environment's KMS key (the buckets' policies demand it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from safedeploy.release.settings import ReleaseSettings


def upload_encrypted(s3: Any, path: Path, *, bucket: str, key: str, kms_key_arn: str) -> str:
    """Upload `path` to `s3://bucket/key` with SSE-KMS and return that URI."""
    s3.upload_file(str(path), bucket, key, ExtraArgs={"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_arn})
    return f"s3://{bucket}/{key}"


def upload_run_file(s3: Any, settings: ReleaseSettings, path: Path, *, prefix: str, bucket: str | None = None) -> str:
    """`<prefix>/<commit>/<build>/<file name>` in the artifacts bucket (or `bucket`), one folder per run."""
    return upload_encrypted(
        s3,
        path,
        bucket=bucket or settings.artifacts_bucket,
        key=f"{prefix}/{settings.run_key}/{path.name}",
        kms_key_arn=settings.kms_key_arn,
    )
