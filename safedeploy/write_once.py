"""Write-once S3 prefixes: what a release approved, and every decision about it, is never overwritten or deleted.

The artifacts bucket's policy denies deletes under these prefixes to every principal, denies a PutObject or
CompleteMultipartUpload there that lacks `If-None-Match` (so a write can only create a new key), and admits the
record prefixes' writes from their owner role alone (`RECORD_WRITERS`). Writers here send `If-None-Match: *`, so a
second write of a key fails with one line instead of replacing what a person or the analysis decided on.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from safedeploy.naming import Function
from safedeploy.s3_layout import (
    APPROVALS,
    DECISIONS,
    DRIFT_DECISIONS,
    EVALUATION,
    MODELS,
    ROLLBACKS,
    ROLLED_BACK,
    TOOLING,
    TRAFFIC_ACTIONS,
)

# Model artifacts, evaluation reports and deploy-tooling bundles (Train; a promoted-to environment's verified
# copies), canary decision records (analysis), drift decision records (the drift check), approval records
# (ApprovalSync: the model decision; Promote: the promotion decision), rollback records (operators), rolled-back
# marks of model packages and their clearings (`safedeploy.guardrails.rolled_back`), and the traffic shifter's
# receipts of verdicts it acted on.
IMMUTABLE_PREFIXES = (
    MODELS,
    EVALUATION,
    TOOLING,
    DECISIONS,
    DRIFT_DECISIONS,
    APPROVALS,
    ROLLBACKS,
    ROLLED_BACK,
    TRAFFIC_ACTIONS,
)
# Record prefixes whose every object must come from their functions' roles (named like the function).
RECORD_WRITERS: dict[str, tuple[Function, ...]] = {
    DECISIONS: (Function.CANARY_ANALYSIS,),
    DRIFT_DECISIONS: (Function.DRIFT_CHECK,),
    APPROVALS: (Function.APPROVAL_SYNC, Function.PROMOTE),
    TRAFFIC_ACTIONS: (Function.TRAFFIC_SHIFTER,),
}
# Rolled-back marks of model packages (`safedeploy.guardrails.rolled_back`): the roles that roll back write marks
# (`ROLLED_BACK_MARKS`, their only grant under rolled-back/); an operator's override of a mark and its clearing
# (`OPERATOR_RECORDS`) the bucket policy denies to every role of the project, so no build step un-marks a package.
MARK_SUFFIX, OVERRIDE_SUFFIX, CLEARED_SUFFIX = ".mark.json", ".override.json", ".cleared.json"
ROLLED_BACK_MARKS = f"{ROLLED_BACK}/*{MARK_SUFFIX}"
OPERATOR_RECORDS = (f"{ROLLED_BACK}/*{OVERRIDE_SUFFIX}", f"{ROLLED_BACK}/*{CLEARED_SUFFIX}")
# Above this size one PutObject is not allowed (5 GiB); a multipart upload completes with the same condition.
SINGLE_PUT_LIMIT = 5 * 1024**3
PART_SIZE = 256 * 1024**2


def served_artifact_refusal(uri: str, bucket: str, what: str = "model artifact") -> str | None:
    """Why `uri` may not be served by the environment whose artifacts bucket is `bucket` (None when it may).

    Only bytes under this bucket's write-once `models/` can be served: anywhere else (another bucket, the pipeline's
    own artifacts, `pipelines/`) the object can be replaced after its hash was checked, and SageMaker downloads it
    again whenever an instance starts. S3 keys are literal, but an empty, `.` or `..` segment is refused too: no
    reader need wonder whether something normalises them.
    """
    head = f"s3://{bucket}/{MODELS}/"
    segments = uri.removeprefix(head).split("/")
    if not uri.startswith(head) or any(segment in ("", ".", "..") for segment in segments):
        return (
            f"{what} {uri} is not under {head}, this environment's write-once prefix: bytes elsewhere can be "
            "replaced after they are verified and are downloaded again whenever an instance starts"
        )
    return None


class AlreadyWritten(ValueError):
    """The key exists: write-once objects are never replaced."""


def _refuse_existing(error: ClientError, bucket: str, key: str) -> None:
    code = error.response.get("Error", {}).get("Code", "")
    if code in ("PreconditionFailed", "ConditionalRequestConflict") or "412" in code:
        raise AlreadyWritten(
            f"s3://{bucket}/{key} already exists; {key.split('/', 1)[0]}/ is write-once, so it is never replaced"
        ) from None
    raise error


def put_new_object(s3: Any, *, bucket: str, key: str, body: bytes, same_body_ok: bool = False, **extra: Any) -> str:
    """Create `key` or fail with AlreadyWritten; returns its URI.

    `same_body_ok`: a key that already holds exactly `body` is success (a retried or replayed writer), anything
    else there is still refused.
    """
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=body, IfNoneMatch="*", **extra)
    except ClientError as error:
        try:
            _refuse_existing(error, bucket, key)
        except AlreadyWritten:
            if not (same_body_ok and s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body):
                raise
    return f"s3://{bucket}/{key}"


def upload_new_file(s3: Any, path: Path, *, bucket: str, key: str, extra: Mapping[str, Any] | None = None) -> str:
    """Upload `path` as a new object (multipart above 5 GiB, completed with `If-None-Match`); returns its URI."""
    args = dict(extra or {})
    if path.stat().st_size <= SINGLE_PUT_LIMIT:
        with path.open("rb") as body:
            try:
                s3.put_object(Bucket=bucket, Key=key, Body=body, IfNoneMatch="*", **args)
            except ClientError as error:
                _refuse_existing(error, bucket, key)
        return f"s3://{bucket}/{key}"
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, **args)["UploadId"]
    try:
        parts = []
        with path.open("rb") as body:
            for number, chunk in enumerate(iter(lambda: body.read(PART_SIZE), b""), start=1):
                etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=chunk)
                parts.append({"PartNumber": number, "ETag": etag["ETag"]})
        s3.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}, IfNoneMatch="*"
        )
    except ClientError as error:
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        _refuse_existing(error, bucket, key)
    return f"s3://{bucket}/{key}"
