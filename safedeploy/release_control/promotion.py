"""Promotion: commit `release.json` naming an Approved package to the production repository.

The production pipeline starts from that commit and deploys the named package after its own approval, so this is
the only road from dev to prod. It is closed to a package that is not Approved in the registry and to a promotion
no person approved, whatever the pipeline passes in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from safedeploy.guardrails import rolled_back
from safedeploy.release_control.approvals import (
    APPROVED,
    ApprovalAction,
    approval_action_from_parameters,
    find_decision,
)
from safedeploy.release_control.pipeline_job import ActionFailed, required_text
from safedeploy.release_control.registry_api import Registry
from safedeploy.release_control.release_manifest import RELEASE_FILE, ReleaseManifest

COMMITTER = "safedeploy-promote"


@dataclass(frozen=True)
class ReleaseTarget:
    """The production repository and branch the production pipeline watches."""

    repository: str
    branch: str

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> ReleaseTarget:
        return cls(
            repository=_required_env(environ, "RELEASE_REPOSITORY"), branch=_required_env(environ, "RELEASE_BRANCH")
        )


@dataclass(frozen=True)
class PromotionRequest:
    package_arn: str
    source_commit: str
    model_approval: ApprovalAction
    promotion_approval: ApprovalAction

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any]) -> PromotionRequest:
        return cls(
            package_arn=required_text(parameters, "model_package_arn"),
            source_commit=required_text(parameters, "source_commit"),
            model_approval=approval_action_from_parameters(parameters, "approval"),
            promotion_approval=approval_action_from_parameters(parameters, "promotion_approval"),
        )


def promotable(
    codepipeline: Any, sm: Any, registry: Registry, package_arn: str, approvals: Mapping[str, ApprovalAction]
) -> dict[str, str]:
    """Who made each decision in `approvals`, for a package that is Approved and was never rolled back; otherwise
    `ActionFailed` saying why nothing is promoted."""
    status = registry.approval_status(sm, package_arn)
    if status != APPROVED:
        raise ActionFailed(f"{package_arn} is {status}; only an {APPROVED} package is promoted")
    mark = rolled_back.mark_of(sm, package_arn)
    if mark:
        raise ActionFailed(f"{package_arn} was rolled back ({mark}); it is not promoted")
    approvers = {}
    for role, action in approvals.items():
        decision = find_decision(codepipeline, action)
        if decision.status != APPROVED:
            raise ActionFailed(f"the {role} approval {action} was {decision.status}; nothing was promoted")
        approvers[role] = decision.approver
    return approvers


def build_manifest(
    codepipeline: Any, sm: Any, s3: Any, registry: Registry, request: PromotionRequest, now: datetime
) -> ReleaseManifest:
    """The manifest for an Approved package whose model and promotion approvals were both made by a person."""
    approvers = promotable(
        codepipeline,
        sm,
        registry,
        request.package_arn,
        {"model": request.model_approval, "promotion": request.promotion_approval},
    )
    return ReleaseManifest(
        model_package_arn=request.package_arn,
        source_commit=request.source_commit,
        metrics=registry.package_metrics(sm, s3, request.package_arn),
        approved_by=approvers["model"],
        promoted_by=approvers["promotion"],
        pipeline_execution_id=request.promotion_approval.execution_id,
        promoted_at=now.isoformat(),
    )


def commit_release(codecommit: Any, target: ReleaseTarget, manifest: ReleaseManifest) -> str:
    """Commit the manifest on top of the branch head (or as the first commit of an empty repository)."""
    parent = _branch_head(codecommit, target)
    commit = {
        "repositoryName": target.repository,
        "branchName": target.branch,
        "filePath": RELEASE_FILE,
        "fileContent": manifest.to_json().encode(),
        "commitMessage": f"Promote {manifest.model_package_arn} (approved by {manifest.approved_by})",
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
    request: PromotionRequest,
    target: ReleaseTarget,
    now: datetime,
) -> str:
    """The pipeline action: the success summary, or `ActionFailed` when the package may not be promoted."""
    manifest = build_manifest(codepipeline, sm, s3, registry, request, now)
    commit_id = commit_release(codecommit, target, manifest)
    return f"Promoted {manifest.model_package_arn} to {target.repository}@{target.branch} in commit {commit_id}"


def _branch_head(codecommit: Any, target: ReleaseTarget) -> str | None:
    try:
        return codecommit.get_branch(repositoryName=target.repository, branchName=target.branch)["branch"]["commitId"]
    except codecommit.exceptions.BranchDoesNotExistException:
        return None


def _required_env(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise ValueError(f"environment variable {name} is not set")
    return value
