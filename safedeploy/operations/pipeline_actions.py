"""Approving, rejecting and retrying from the shell: the console stays the primary path, these are its twins.

An approval is only ever given to an action that is waiting for one (CodePipeline hands out a token per wait), so
an operator cannot approve a stale execution by mistake; the approver's identity is their AWS principal, recorded by
CodePipeline and copied onto the model package by ApprovalSync.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from safedeploy.errors import InputError

# PutApprovalResult's `result.status`.
ApprovalStatus = Literal["Approved", "Rejected"]
# PutApprovalResult's `result.summary` holds at most 512 characters; a longer comment would be refused by the API
# after the operator typed it, or worse, cut: the comment is part of the package's approval record, so it is checked.
MAX_COMMENT_CHARACTERS = 512


@dataclass(frozen=True)
class PendingApproval:
    stage: str
    action: str
    token: str
    execution_id: str | None


@dataclass(frozen=True)
class ApprovalGiven:
    pipeline: str
    stage: str
    action: str
    execution_id: str | None
    decision: ApprovalStatus
    comment: str

    def summary(self) -> str:
        return f"{self.decision.lower()} {self.stage}/{self.action} of {self.pipeline} execution {self.execution_id}"


@dataclass(frozen=True)
class StageRetried:
    pipeline: str
    stage: str
    execution_id: str

    def summary(self) -> str:
        return f"retrying the failed actions of {self.stage} in {self.pipeline} execution {self.execution_id}"


@dataclass(frozen=True)
class StageState:
    name: str
    status: str
    execution_id: str | None


def stage_states(state: dict[str, Any]) -> list[StageState]:
    return [
        StageState(
            stage["stageName"],
            stage.get("latestExecution", {}).get("status", "NotRun"),
            stage.get("latestExecution", {}).get("pipelineExecutionId"),
        )
        for stage in state.get("stageStates", [])
    ]


def pending_approvals(state: dict[str, Any]) -> list[PendingApproval]:
    pending = []
    for stage in state.get("stageStates", []):
        for action in stage.get("actionStates", []):
            latest = action.get("latestExecution", {})
            if latest.get("status") == "InProgress" and latest.get("token"):
                execution = stage.get("latestExecution", {}).get("pipelineExecutionId")
                pending.append(PendingApproval(stage["stageName"], action["actionName"], latest["token"], execution))
    return pending


def decide(
    codepipeline: Any, pipeline: str, decision: ApprovalStatus, comment: str, stage: str | None = None
) -> ApprovalGiven:
    """Approve or reject the one pending approval (or the one in `stage`); refuse when there is none or several."""
    if not comment.strip():
        raise InputError("a comment is required: it becomes part of the model package's approval record")
    if len(comment) > MAX_COMMENT_CHARACTERS:
        raise InputError(
            f"--comment is {len(comment)} characters; CodePipeline keeps at most {MAX_COMMENT_CHARACTERS} "
            "(PutApprovalResult summary): shorten it"
        )
    waiting = pending_approvals(codepipeline.get_pipeline_state(name=pipeline))
    if stage:
        waiting = [approval for approval in waiting if approval.stage == stage]
    if not waiting:
        raise InputError(f"no approval is waiting in pipeline {pipeline}" + (f" stage {stage}" if stage else ""))
    if len(waiting) > 1:
        stages = ", ".join(approval.stage for approval in waiting)
        raise InputError(f"approvals are waiting in several stages ({stages}): choose one with --stage")
    (approval,) = waiting
    codepipeline.put_approval_result(
        pipelineName=pipeline,
        stageName=approval.stage,
        actionName=approval.action,
        result={"summary": comment, "status": decision},
        token=approval.token,
    )
    return ApprovalGiven(pipeline, approval.stage, approval.action, approval.execution_id, decision, comment)


def retry_stage(codepipeline: Any, pipeline: str, stage: str) -> StageRetried:
    """Retry the failed actions of `stage` in its latest execution (the console's Retry Stage)."""
    states = {state.name: state for state in stage_states(codepipeline.get_pipeline_state(name=pipeline))}
    if stage not in states:
        raise InputError(f"pipeline {pipeline} has no stage {stage!r}; stages: {', '.join(states)}")
    state = states[stage]
    if state.status != "Failed" or not state.execution_id:
        raise InputError(f"stage {stage} of {pipeline} is {state.status}, not Failed: nothing to retry")
    codepipeline.retry_stage_execution(
        pipelineName=pipeline, stageName=stage, pipelineExecutionId=state.execution_id, retryMode="FAILED_ACTIONS"
    )
    return StageRetried(pipeline, stage, state.execution_id)
