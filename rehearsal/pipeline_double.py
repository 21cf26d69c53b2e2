"""CodePipeline's side of the Lambda actions: where a job's result goes, and who approved what.

moto has no CodePipeline job or action-execution APIs, and in a rehearsal CodePipeline's only role is to carry
results between actions, so a small recorder plays it; the handlers call it exactly as they call CodePipeline.
Every call the handlers make of a double is decided against the synthesized IAM for the principal acting, as the
botocore hook decides moto's (`iam_enforcement.authorize`); the rehearsal's own bookkeeping (`registered`,
`approve`: CodePipeline and a person) is not a call of the product's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from testbed.iam_enforcement import authorize

APPROVER = "arn:aws:sts::123456789012:assumed-role/MlApprover/rehearsal-approver"
PROMOTER = "arn:aws:sts::123456789012:assumed-role/ReleaseManager/rehearsal-promoter"


@dataclass
class CodePipelineDouble:
    """Every pipeline of the rehearsed chain (the first is the training environment's): job results, and each
    execution's action executions under the pipeline that ran it."""

    pipeline: str
    others: tuple[str, ...] = ()
    results: dict[str, tuple[bool, str]] = field(default_factory=dict)
    approvals: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def pipelines(self) -> tuple[str, ...]:
        return (self.pipeline, *self.others)

    def put_job_success_result(self, jobId: str, executionDetails: dict[str, Any] | None = None, **_: Any) -> None:
        authorize("codepipeline", "PutJobSuccessResult", {"jobId": jobId})
        self.results[jobId] = (True, (executionDetails or {}).get("summary", ""))

    def put_job_failure_result(self, jobId: str, failureDetails: dict[str, Any], **_: Any) -> None:
        authorize("codepipeline", "PutJobFailureResult", {"jobId": jobId})
        self.results[jobId] = (False, failureDetails.get("message", ""))

    def registered(self, execution_id: str, package_arn: str) -> None:
        """The Train action's run in `execution_id`, exporting the package it registered."""
        now = datetime.now(UTC)
        self.approvals.setdefault((self.pipeline, execution_id), []).append(
            {
                "pipelineExecutionId": execution_id,
                "actionExecutionId": f"{execution_id}-Train",
                "stageName": "Train",
                "actionName": "TrainAndRegister",
                "startTime": now,
                "lastUpdateTime": now,
                "status": "Succeeded",
                "output": {"outputVariables": {"MODEL_PACKAGE_ARN": package_arn}},
            }
        )

    def approve(
        self,
        execution_id: str,
        stage: str,
        action: str,
        comment: str,
        approved: bool = True,
        by: str = APPROVER,
        pipeline: str | None = None,
    ) -> None:
        """A person's decision, as the approval action of `pipeline` (default: the training one) records it."""
        now = datetime.now(UTC)
        self.approvals.setdefault((pipeline or self.pipeline, execution_id), []).append(
            {
                "pipelineExecutionId": execution_id,
                "actionExecutionId": f"{execution_id}-{stage}",
                "stageName": stage,
                "actionName": action,
                "startTime": now,
                "lastUpdateTime": now,
                "status": "Succeeded" if approved else "Failed",
                "updatedBy": by,
                "input": {
                    "actionTypeId": {"category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"}
                },
                "output": {"executionResult": {"externalExecutionId": "token", "externalExecutionSummary": comment}},
            }
        )

    def get_paginator(self, operation: str) -> _Paginator:
        if operation != "list_action_executions":
            raise NotImplementedError(operation)
        return _Paginator(self)


@dataclass
class _Paginator:
    double: CodePipelineDouble

    def paginate(self, pipelineName: str, filter: dict[str, str], **_: Any) -> Iterator[dict[str, Any]]:
        authorize("codepipeline", "ListActionExecutions", {"pipelineName": pipelineName, "filter": filter})
        if pipelineName not in self.double.pipelines:
            raise ValueError(f"unknown pipeline {pipelineName}")
        executions = self.double.approvals.get((pipelineName, filter["pipelineExecutionId"]), [])
        yield {"actionExecutionDetails": list(executions)}


@dataclass
class CodeCommitDouble:
    """A repository Promote writes (GetBranch, PutFile) and a forwarding Promote reads (GetFile), kept as a
    directory: the next environment's source. `others` are the chain's further repositories, by name."""

    repository: str
    directory: Path
    commits: list[dict[str, Any]] = field(default_factory=list)
    others: dict[str, CodeCommitDouble] = field(default_factory=dict)

    class exceptions:  # mirrors boto3 client.exceptions
        class BranchDoesNotExistException(Exception):
            pass

    def _named(self, name: str) -> CodeCommitDouble:
        if name == self.repository:
            return self
        if name not in self.others:
            raise ValueError(f"unknown repository {name}")
        return self.others[name]

    def get_branch(self, repositoryName: str, branchName: str) -> dict[str, Any]:
        authorize("codecommit", "GetBranch", {"repositoryName": repositoryName, "branchName": branchName})
        commits = self._named(repositoryName).commits
        if not commits:
            raise self.exceptions.BranchDoesNotExistException(branchName)
        return {"branch": {"branchName": branchName, "commitId": commits[-1]["commitId"]}}

    def get_file(self, repositoryName: str, commitSpecifier: str, filePath: str) -> dict[str, Any]:
        authorize(
            "codecommit",
            "GetFile",
            {"repositoryName": repositoryName, "commitSpecifier": commitSpecifier, "filePath": filePath},
        )
        commit = next(item for item in self._named(repositoryName).commits if item["commitId"] == commitSpecifier)
        return {"commitId": commitSpecifier, "filePath": filePath, "fileContent": commit["files"][filePath]}

    def put_file(self, repositoryName: str, filePath: str, fileContent: bytes, **commit: Any) -> dict[str, Any]:
        authorize("codecommit", "PutFile", {"repositoryName": repositoryName, "filePath": filePath, **commit})
        repository = self._named(repositoryName)
        (repository.directory / filePath).write_bytes(fileContent)
        entry = {
            "commitId": f"{len(repository.commits) + 1:040x}",
            "message": commit.get("commitMessage", ""),
            "files": {filePath: fileContent},
        }
        repository.commits.append(entry)
        return {"commitId": entry["commitId"], "blobId": "blob", "treeId": "tree"}
