"""Uploads of release artifacts, always encrypted with the environment's KMS key (the buckets' policies demand it).

Every upload creates a new key (`If-None-Match`): models/ and evaluation/ are write-once, and a run's folder is its
own, so a second upload to the same key is a mistake to stop, never an update.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from safedeploy.build_steps.settings import ReleaseSettings
from safedeploy.s3_layout import run_key
from safedeploy.write_once import upload_new_file


def upload_encrypted(s3: Any, path: Path, *, bucket: str, key: str, kms_key_arn: str) -> str:
    """Upload `path` to `s3://bucket/key` with SSE-KMS as a new object and return that URI."""
    return upload_new_file(
        s3, path, bucket=bucket, key=key, extra={"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_arn}
    )


def upload_run_file(s3: Any, settings: ReleaseSettings, path: Path, *, prefix: str, bucket: str | None = None) -> str:
    """`<prefix>/<commit>/<build>/<file name>` in the artifacts bucket (or `bucket`), one folder per run."""
    return upload_encrypted(
        s3,
        path,
        bucket=bucket or settings.artifacts_bucket,
        key=run_key(prefix, settings.run_key, path.name),
        kms_key_arn=settings.kms_key_arn,
    )
