"""Promotion: commit `release.json` naming an Approved package to the production repository.

The production pipeline starts from that commit and deploys the named package after its own approval, so this is
the only road from dev to prod. It is closed to a package without an Approved approval record from the same
execution and to a promotion no person approved, whatever the pipeline passes in. The promotion decision is itself
written as a record, which prod's Deploy checks `promoted_by` against.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from safedeploy.guardrails.errors import PackageRolledBack
from safedeploy.guardrails.rolled_back import RolledBackMarks
from safedeploy.lambda_actions.approvals import (
    APPROVED,
    MODEL_APPROVAL,
    PROMOTION_APPROVAL,
    ApprovalAction,
    approval_record,
    configured_approval,
    find_decision,
)
from safedeploy.lambda_actions.pipeline_job import (
    COMMIT_PATTERN,
    ActionFailed,
    matching_text,
    package_arn_parameter,
    required_env,
)
from safedeploy.lambda_actions.registry_api import Registry
from safedeploy.trust.approval_record import MODEL_DECISION, PROMOTION_DECISION, RecordStore
from safedeploy.trust.evidence import PackageEvidence
from safedeploy.trust.release_manifest import RELEASE_FILE, ReleaseManifest

COMMITTER = "safedeploy-promote"
# Prod's approval shows the promotion commit's message (#{Source.CommitMessage}) inside CustomData, which CodePipeline
# limits to 500 characters after resolution: the message never exceeds this (stacks/pipeline/approvals.py checks the
# approval text with it at its longest).
COMMIT_MESSAGE_LIMIT = 340


@dataclass(frozen=True)
class ReleaseTarget:
    """The production repository and branch the production pipeline watches."""

    repository: str
    branch: str

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> ReleaseTarget:
        return cls(
            repository=required_env(environ, "RELEASE_REPOSITORY"), branch=required_env(environ, "RELEASE_BRANCH")
        )


@dataclass(frozen=True)
class PromotionRequest:
    package_arn: str
    source_commit: str
    model_approval: ApprovalAction
    promotion_approval: ApprovalAction

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any], environ: Mapping[str, str]) -> PromotionRequest:
        """The package and commit from UserParameters; which approvals to read from the function's configuration."""
        return cls(
            package_arn=package_arn_parameter(parameters),
            source_commit=matching_text(parameters, "source_commit", COMMIT_PATTERN, "a commit id"),
            model_approval=configured_approval(environ, parameters, MODEL_APPROVAL),
            promotion_approval=configured_approval(environ, parameters, PROMOTION_APPROVAL),
        )


def _require_approved_and_never_rolled_back(
    sm: Any, registry: Registry, marks: RolledBackMarks, package_arn: str
) -> None:
    """Approved, and never rolled back here (marks that cannot be read refuse it too)."""
    status = registry.approval_status(sm, package_arn)
    if status != APPROVED:
        raise ActionFailed(f"{package_arn} is {status}; only an {APPROVED} package is promoted")
    try:
        mark = marks.mark_of(package_arn)
    except PackageRolledBack as unreadable:
        raise ActionFailed(str(unreadable)) from None
    if mark:
        raise ActionFailed(f"{package_arn} was rolled back ({mark.describe()}); it is not promoted")


def promotable(
    codepipeline: Any,
    sm: Any,
    registry: Registry,
    marks: RolledBackMarks,
    package_arn: str,
    approvals: Mapping[str, ApprovalAction],
) -> dict[str, str]:
    """Who made each decision in `approvals`, for a package that is Approved and was never rolled back; otherwise
    `ActionFailed` saying why nothing is promoted."""
    _require_approved_and_never_rolled_back(sm, registry, marks, package_arn)
    approvers = {}
    for role, action in approvals.items():
        decision = find_decision(codepipeline, action)
        if decision.status != APPROVED:
            raise ActionFailed(f"the {role} approval {action} was {decision.status}; nothing was promoted")
        approvers[role] = decision.approver
    return approvers


def build_manifest(
    codepipeline: Any,
    sm: Any,
    s3: Any,
    registry: Registry,
    marks: RolledBackMarks,
    request: PromotionRequest,
    now: datetime,
    records: RecordStore,
    group: str,
) -> ReleaseManifest:
    """The manifest of a package a person approved in this execution, once a person approved its promotion too."""
    package_arn = request.package_arn
    record = records.read(package_arn, MODEL_DECISION)
    if record is None or record.result != APPROVED:
        state = "no approval record" if record is None else f"a {record.result} approval record"
        raise ActionFailed(
            f"{package_arn} has {state} ({records.uri(package_arn, MODEL_DECISION)}); nothing was promoted"
        )
    if record.pipeline_execution_id != request.model_approval.execution_id:
        raise ActionFailed(
            f"{package_arn} was approved in execution {record.pipeline_execution_id}, not "
            f"{request.model_approval.execution_id}; nothing was promoted"
        )
    evidence = PackageEvidence.describe(sm, package_arn)
    changed = record.evidence.differences(evidence)
    if evidence.group != group or changed:
        raise ActionFailed(
            f"{package_arn} does not match its approval record ({', '.join(changed) or 'group'}); nothing was promoted"
        )
    if evidence.source_commit != request.source_commit:
        raise ActionFailed(
            f"{package_arn} was built from commit {evidence.source_commit}, not this execution's "
            f"{request.source_commit}; nothing was promoted"
        )
    _require_approved_and_never_rolled_back(sm, registry, marks, package_arn)
    promotion = find_decision(codepipeline, request.promotion_approval)
    if promotion.status != APPROVED:
        raise ActionFailed(
            f"the promotion approval {request.promotion_approval} was {promotion.status}; nothing was promoted"
        )
    records.write(approval_record(promotion, evidence, PROMOTION_DECISION))
    return ReleaseManifest(
        model_package_arn=package_arn,
        source_commit=evidence.source_commit,
        metrics=registry.package_metrics(sm, s3, package_arn),
        approved_by=record.approver,
        promoted_by=promotion.approver,
        pipeline_execution_id=record.pipeline_execution_id,
        promoted_at=now.isoformat(),
        model_sha256=evidence.model_sha256,
        evaluation_sha256=evidence.evaluation_sha256,
        tooling_sha256=evidence.tooling_sha256,
    )


def commit_message(manifest: ReleaseManifest) -> str:
    """What the production approver reads first (the approval shows it): package, metrics, commit and approvers (and
    the last forwarding, along a longer chain), within COMMIT_MESSAGE_LIMIT: long approver ARNs shrink to the
    principal's name, then the metrics are cut (all of it is in release.json), then the text itself."""
    metrics = ", ".join(f"{name} {value:.4f}" for name, value in sorted(manifest.metrics.items()))
    hop = manifest.forwarded_by[-1] if manifest.forwarded_by else None

    def text(approved: str, promoted: str, forwarded: str, shown: str) -> str:
        via = f", forwarded from {hop.repository} by {forwarded}" if hop else ""
        return (
            f"Promote {manifest.model_package_arn} ({shown}; commit {manifest.source_commit[:12]}; approved by "
            f"{approved}, promoted by {promoted}{via})"
        )

    approvers = (manifest.approved_by, manifest.promoted_by, hop.forwarded_by if hop else "")
    if len(text(*approvers, metrics)) > COMMIT_MESSAGE_LIMIT:
        approvers = tuple(_principal_name(arn) for arn in approvers)
    room = COMMIT_MESSAGE_LIMIT - len(text(*approvers, ""))
    if len(metrics) > room:
        metrics = metrics[: max(0, room - 1)] + "…" if room > 0 else ""
    message = text(*approvers, metrics)
    return message if len(message) <= COMMIT_MESSAGE_LIMIT else message[: COMMIT_MESSAGE_LIMIT - 1] + "…"


def _principal_name(arn: str) -> str:
    """The last part of a principal ARN (a role session or user name), at most 64 characters."""
    return arn.rsplit("/", 1)[-1][:64]


def commit_release(codecommit: Any, target: ReleaseTarget, manifest: ReleaseManifest) -> str:
    """Commit the manifest on top of the branch head (or as the first commit of an empty repository)."""
    parent = _branch_head(codecommit, target)
    commit = {
        "repositoryName": target.repository,
        "branchName": target.branch,
        "filePath": RELEASE_FILE,
        "fileContent": manifest.to_json().encode(),
        "commitMessage": commit_message(manifest),
        "name": COMMITTER,
    }
    if parent is not None:
        commit["parentCommitId"] = parent
    return codecommit.put_file(**commit)["commitId"]


def run_promotion(
    *,
    codepipeline: Any,
    codecommit: Any,
    sm: Any,
    s3: Any,
    registry: Registry,
    marks: RolledBackMarks,
    request: PromotionRequest,
    target: ReleaseTarget,
    now: datetime,
    records: RecordStore,
    group: str,
) -> str:
    """The pipeline action: the success summary, or `ActionFailed` when the package may not be promoted."""
    manifest = build_manifest(codepipeline, sm, s3, registry, marks, request, now, records, group)
    commit_id = commit_release(codecommit, target, manifest)
    return f"Promoted {manifest.model_package_arn} to {target.repository}@{target.branch} in commit {commit_id}"


def _branch_head(codecommit: Any, target: ReleaseTarget) -> str | None:
    try:
        return codecommit.get_branch(repositoryName=target.repository, branchName=target.branch)["branch"]["commitId"]
    except codecommit.exceptions.BranchDoesNotExistException:
        return None
