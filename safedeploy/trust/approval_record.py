"""Approval records: a person's decision, bound to the package, the pipeline execution and the bytes, written once.

`approvals/<group>/<version>/model.json` is written by ApprovalSync after it read that very execution's approval
action and checked the package is the one the execution registered; `.../promotion.json` by Promote after the
promotion approval. Deploys (dev and prod) read them and refuse a package without a matching `Approved` record,
whatever the registry's status says: the registry can be written by anyone with UpdateModelPackage, the record only
by the code that read the person's decision. Writes are conditional (`If-None-Match: *`), so a record, once written,
is never replaced; the bucket's versioning and the prefix's deny policies keep it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from safedeploy.errors import ConfigError, InputError
from safedeploy.s3_layout import approval_record_key
from safedeploy.s3_objects import read_if_present
from safedeploy.trust.evidence import PackageEvidence

MODEL_DECISION = "model"
PROMOTION_DECISION = "promotion"
DECISIONS = (MODEL_DECISION, PROMOTION_DECISION)
SCHEMA_VERSION = 1


class RecordConflict(ValueError):
    """A different record already exists for the same package and decision; the first one stands."""


@dataclass(frozen=True)
class ApprovalRecord:
    decision: str
    package_arn: str
    pipeline_name: str
    pipeline_execution_id: str
    approval_action: str
    action_execution_id: str
    result: str
    approver: str
    comment: str
    decided_at: str
    evidence: PackageEvidence
    schema_version: int = field(default=SCHEMA_VERSION)

    def __post_init__(self) -> None:
        if self.decision not in DECISIONS:
            raise InputError(f"approval record decision {self.decision!r} is not one of {', '.join(DECISIONS)}")
        if self.evidence.package_arn != self.package_arn:
            raise InputError(f"approval record of {self.package_arn} carries the evidence of another package")

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes, source: str) -> ApprovalRecord:
        try:
            data = json.loads(text)
            return cls(**{**data, "evidence": PackageEvidence(**data["evidence"])})
        except (json.JSONDecodeError, TypeError, KeyError) as error:
            raise InputError(f"{source} is not an approval record: {error}") from None


@dataclass(frozen=True)
class RecordStore:
    """The records of one environment: its artifacts bucket, encrypted with its key."""

    s3: Any
    bucket: str
    kms_key_arn: str = ""

    def uri(self, package_arn: str, decision: str) -> str:
        return f"s3://{self.bucket}/{approval_record_key(package_arn, decision)}"

    def write(self, record: ApprovalRecord) -> str:
        """Write the record once; writing the same record again is a no-op, a different one is refused."""
        key = approval_record_key(record.package_arn, record.decision)
        encryption = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key_arn} if self.kms_key_arn else {}
        try:
            self.s3.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=record.to_json().encode(),
                ContentType="application/json",
                IfNoneMatch="*",
                **encryption,
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise
            existing = self.read(record.package_arn, record.decision)
            if existing != record:
                raise RecordConflict(
                    f"{self.uri(record.package_arn, record.decision)} already records "
                    f"{existing.result if existing else 'another decision'} by "
                    f"{existing.approver if existing else 'someone else'}; records are never replaced"
                ) from None
        return self.uri(record.package_arn, record.decision)

    def read(self, package_arn: str, decision: str) -> ApprovalRecord | None:
        key = approval_record_key(package_arn, decision)
        body = read_if_present(self.s3, self.bucket, key)  # absent: no record (never a 403 read as absence)
        return None if body is None else ApprovalRecord.from_json(body, f"s3://{self.bucket}/{key}")


# Set by the pipeline stack on the functions that write records (ApprovalSync, Promote).
RECORDS_BUCKET_ENV = "RECORDS_BUCKET"
RECORDS_KEY_ENV = "RECORDS_KEY_ARN"
PACKAGE_GROUP_ENV = "MODEL_PACKAGE_GROUP"


@dataclass(frozen=True)
class RecordScope:
    """The records a function writes and the one model package group whose packages it may vouch for."""

    records: RecordStore
    group: str

    @classmethod
    def from_environment(cls, s3: Any, environ: Mapping[str, str]) -> RecordScope:
        missing = [name for name in (RECORDS_BUCKET_ENV, RECORDS_KEY_ENV, PACKAGE_GROUP_ENV) if not environ.get(name)]
        if missing:
            raise ConfigError(f"environment variables {', '.join(missing)} are not set")
        return cls(RecordStore(s3, environ[RECORDS_BUCKET_ENV], environ[RECORDS_KEY_ENV]), environ[PACKAGE_GROUP_ENV])
