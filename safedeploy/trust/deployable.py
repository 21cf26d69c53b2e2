"""Whether a package may be deployed here: decided from the approval records and the bytes, before any change.

Dev deploys a package of its own group that has an `Approved` model record whose evidence still matches the package
and whose artifact, under dev's own write-once `models/`, still hashes to the digest recorded at registration. Prod
deploys a `release.json` only if every claim in it (package, digests, commit, approver, promoter, execution) matches
dev's records, and serves its own copy of the artifact, verified by hash, from its own bucket: dev's teardown cannot
take prod's model away.
Every refusal is one line ending in "nothing was deployed".
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safedeploy.digests import sha256_s3_object
from safedeploy.guardrails.errors import PackageNotApproved
from safedeploy.s3_layout import EVALUATION, MODELS, package_group_and_version, promoted_key
from safedeploy.s3_objects import object_exists
from safedeploy.trust.approval_record import (
    MODEL_DECISION,
    PROMOTION_DECISION,
    ApprovalRecord,
    RecordStore,
)
from safedeploy.trust.evidence import PackageEvidence
from safedeploy.trust.release_manifest import RELEASE_FILE, ReleaseManifest
from safedeploy.write_once import served_artifact_refusal, upload_new_file

APPROVED = "Approved"
NOTHING_DEPLOYED = "nothing was deployed"


class ReleaseRefused(PackageNotApproved):
    """The records or the bytes do not vouch for this package; the deploy stops before any change."""


@dataclass(frozen=True)
class Deployable:
    evidence: PackageEvidence
    record: ApprovalRecord
    record_uri: str


def verify_package(sm: Any, package_arn: str, *, group: str, records: RecordStore) -> Deployable:
    """The package's evidence and its model approval record, once both agree and a person approved it."""
    package_group_and_version(package_arn)  # a malformed ARN is bad input, not a refusal
    try:
        evidence = PackageEvidence.of_group(sm, package_arn, group)
    except ValueError as error:
        raise ReleaseRefused(f"{error}; {NOTHING_DEPLOYED}") from None
    uri = records.uri(package_arn, MODEL_DECISION)
    record = records.read(package_arn, MODEL_DECISION)
    if record is None:
        raise ReleaseRefused(
            f"model package {package_arn} has no approval record ({uri}): only a person's decision in the "
            f"pipeline's Approval makes a package deployable, whatever its registry status; {NOTHING_DEPLOYED}"
        )
    if record.result != APPROVED or not record.approver:
        raise ReleaseRefused(
            f"model package {package_arn} was {record.result} by {record.approver}; {NOTHING_DEPLOYED}"
        )
    changed = record.evidence.differences(evidence)
    if changed:
        raise ReleaseRefused(
            f"model package {package_arn} changed since it was approved ({', '.join(changed)} differ from {uri}); "
            f"{NOTHING_DEPLOYED}"
        )
    return Deployable(evidence, record, uri)


def require_served_here(model_data_url: str, bucket: str) -> None:
    """The artifact this environment would serve is under its own write-once `models/` (dev's own package, or
    prod's verified copy); anything else is refused before any change."""
    refusal = served_artifact_refusal(model_data_url, bucket)
    if refusal:
        raise ReleaseRefused(f"{refusal}; {NOTHING_DEPLOYED}")


def verify_bytes(s3: Any, uri: str, expected: str, what: str) -> None:
    actual = sha256_s3_object(s3, uri)
    if actual != expected:
        raise ReleaseRefused(_digest_mismatch(what, uri, actual, expected))


def verify_release(manifest: ReleaseManifest, deployable: Deployable, promotion: ApprovalRecord | None) -> None:
    """Every claim of `release.json` against the records dev wrote; the first mismatch stops the deploy."""
    record, evidence = deployable.record, deployable.evidence
    if promotion is None or promotion.result != APPROVED:
        state = "no promotion record" if promotion is None else f"a {promotion.result} promotion record"
        raise ReleaseRefused(f"{manifest.model_package_arn} has {state}; {NOTHING_DEPLOYED}")
    claims = {
        "model_package_arn": (manifest.model_package_arn, record.package_arn),
        "source_commit": (manifest.source_commit, evidence.source_commit),
        "model_sha256": (manifest.model_sha256, evidence.model_sha256),
        "evaluation_sha256": (manifest.evaluation_sha256, evidence.evaluation_sha256),
        "tooling_sha256": (manifest.tooling_sha256, evidence.tooling_sha256),
        "approved_by": (manifest.approved_by, record.approver),
        "pipeline_execution_id": (manifest.pipeline_execution_id, record.pipeline_execution_id),
        "promoted_by": (manifest.promoted_by, promotion.approver),
    }
    if promotion.pipeline_execution_id != record.pipeline_execution_id:
        claims["promotion execution"] = (promotion.pipeline_execution_id, record.pipeline_execution_id)
    for name, (claimed, recorded) in claims.items():
        if claimed != recorded:
            raise ReleaseRefused(
                f"{RELEASE_FILE} {name} {claimed!r} does not match the approval records' {recorded!r} "
                f"({deployable.record_uri}); {NOTHING_DEPLOYED}"
            )


def verify_promoted(sm: Any, manifest: ReleaseManifest, *, group: str, records: RecordStore) -> Deployable:
    """A promoted release: the package is deployable in its own environment and `release.json` tells the truth."""
    deployable = verify_package(sm, manifest.model_package_arn, group=group, records=records)
    verify_release(manifest, deployable, records.read(manifest.model_package_arn, PROMOTION_DECISION))
    return deployable


@dataclass(frozen=True)
class OwnBucket:
    """Where this environment keeps the copies of what it serves."""

    bucket: str
    kms_key_arn: str


def copy_verified(s3: Any, source_uri: str, expected: str, target: OwnBucket, key: str, what: str) -> str:
    """Copy `source_uri` into `target` (or reuse a copy already there) and return the copy's URI, verified by hash.

    The bytes are hashed on the way through and checked before anything is written, then the copy is hashed again:
    a tampered source never lands, and a tampered copy is never served.
    """
    destination = f"s3://{target.bucket}/{key}"
    if object_exists(s3, target.bucket, key):
        actual = sha256_s3_object(s3, destination)
        if actual != expected:
            raise ReleaseRefused(_digest_mismatch(f"the copy of the {what}", destination, actual, expected))
        return destination
    with tempfile.TemporaryDirectory() as scratch:
        spooled = Path(scratch) / "copy"
        with spooled.open("wb") as spool:
            actual = sha256_s3_object(s3, source_uri, sink=spool)
        if actual != expected:
            raise ReleaseRefused(_digest_mismatch(what, source_uri, actual, expected))
        # The served prefixes are write-once (If-None-Match), so the copy is a new object, never an overwrite.
        upload_new_file(
            s3,
            spooled,
            bucket=target.bucket,
            key=key,
            extra={"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": target.kms_key_arn},
        )
    verify_bytes(s3, destination, expected, f"the copy of the {what}")
    return destination


def take_ownership(
    s3: Any, deployable: Deployable, target: OwnBucket, drift_baseline: Mapping[str, str] | None = None
) -> str:
    """Copy the model artifact, the evaluation report and the drift baseline (when the package has one) into this
    environment; returns the artifact copy's URI.

    Only verified bytes land: a tampered artifact stops the deploy before anything is written here. The baseline's
    copy is what this environment's gateway and drift job read (`served_baseline_location`): they cannot read the
    environment the package was trained in.
    """
    evidence = deployable.evidence
    model_copy = copy_verified(
        s3,
        evidence.model_data_url,
        evidence.model_sha256,
        target,
        promoted_key(MODELS, evidence.package_arn, evidence.model_data_url),
        "model artifact",
    )
    copy_verified(
        s3,
        evidence.evaluation_uri,
        evidence.evaluation_sha256,
        target,
        promoted_key(EVALUATION, evidence.package_arn, evidence.evaluation_uri),
        "evaluation report",
    )
    if drift_baseline:
        source = drift_baseline["S3Uri"]
        expected = drift_baseline["ContentDigest"].removeprefix("sha256:")
        key = promoted_key(MODELS, evidence.package_arn, source)
        copy_verified(s3, source, expected, target, key, "drift baseline")
    return model_copy


def _digest_mismatch(what: str, uri: str, actual: str, expected: str) -> str:
    return (
        f"{what} {uri} has sha256 {actual[:16]}, not the {expected[:16]} recorded at registration and approval; "
        f"{NOTHING_DEPLOYED}"
    )
