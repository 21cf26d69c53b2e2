"""Forwarding: an environment in the middle of a chain (dev -> staging -> prod) passes on the package it serves.

It builds nothing from pipeline variables: it reads the `release.json` its own pipeline deployed (the commit of its
Release source), and commits that same package to the next environment's repository only when the package is
still Approved in the origin's registry, carries no rolled-back mark (a rollback here stops it), and people approved
both this environment's release and the forwarding.
The origin's claims stay as they are (the last environment checks them against the origin's records); this
forwarding is appended as a hop: this repository, both approvers, this execution.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from safedeploy.guardrails.rolled_back import RolledBackMarks
from safedeploy.lambda_actions.approvals import (
    MODEL_APPROVAL,
    PROMOTION_APPROVAL,
    ApprovalAction,
    configured_approval,
)
from safedeploy.lambda_actions.pipeline_job import COMMIT_PATTERN, matching_text
from safedeploy.lambda_actions.promotion import ReleaseTarget, commit_release, promotable
from safedeploy.lambda_actions.registry_api import Registry
from safedeploy.trust.release_manifest import RELEASE_FILE, ForwardHop, ReleaseManifest

# The UserParameters key that tells a forwarding job from a first promotion.
RELEASE_COMMIT_PARAMETER = "release_commit"


@dataclass(frozen=True)
class ForwardRequest:
    """The deployed release (this environment's repository at its Release source commit) and the two approvals."""

    release_repository: str
    release_commit: str
    release_approval: ApprovalAction
    promotion_approval: ApprovalAction

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any], environ: Mapping[str, str]) -> ForwardRequest:
        """The release from UserParameters; which approvals to read from the function's configuration (in a release
        pipeline the first approval is the release's)."""
        return cls(
            release_repository=matching_text(parameters, "release_repository", r"[\w.-]{1,100}", "a repository name"),
            release_commit=matching_text(parameters, RELEASE_COMMIT_PARAMETER, COMMIT_PATTERN, "a commit id"),
            release_approval=configured_approval(environ, parameters, MODEL_APPROVAL),
            promotion_approval=configured_approval(environ, parameters, PROMOTION_APPROVAL),
        )


def deployed_release(codecommit: Any, request: ForwardRequest) -> ReleaseManifest:
    """The `release.json` this execution deployed, validated as strictly as the deploy step reads it."""
    found = codecommit.get_file(
        repositoryName=request.release_repository, commitSpecifier=request.release_commit, filePath=RELEASE_FILE
    )
    return ReleaseManifest.from_json(found["fileContent"].decode())


def forwarded_manifest(
    codepipeline: Any,
    codecommit: Any,
    sm: Any,
    registry: Registry,
    marks: RolledBackMarks,
    request: ForwardRequest,
    now: datetime,
) -> ReleaseManifest:
    manifest = deployed_release(codecommit, request)
    approvers = promotable(
        codepipeline,
        sm,
        registry,
        marks,
        manifest.model_package_arn,
        {"release": request.release_approval, "promotion": request.promotion_approval},
    )
    hop = ForwardHop(
        repository=request.release_repository,
        release_approved_by=approvers["release"],
        forwarded_by=approvers["promotion"],
        pipeline_execution_id=request.promotion_approval.execution_id,
        forwarded_at=now.isoformat(),
    )
    return dataclasses.replace(manifest, forwarded_by=(*manifest.forwarded_by, hop))


def run_forwarding(
    *,
    codepipeline: Any,
    codecommit: Any,
    sm: Any,
    registry: Registry,
    marks: RolledBackMarks,
    request: ForwardRequest,
    target: ReleaseTarget,
    now: datetime,
) -> str:
    """The pipeline action: the success summary, or `ActionFailed` when the package may not go on."""
    manifest = forwarded_manifest(codepipeline, codecommit, sm, registry, marks, request, now)
    commit_id = commit_release(codecommit, target, manifest)
    return (
        f"Promoted {manifest.model_package_arn} from {request.release_repository}@{request.release_commit[:12]} "
        f"to {target.repository}@{target.branch} in commit {commit_id}"
    )
