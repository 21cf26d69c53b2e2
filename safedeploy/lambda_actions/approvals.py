"""A person's decision in the pipeline's Manual approval, copied onto the model package.

CodePipeline keeps who decided (`updatedBy`) and the approver's comment (`output.executionResult.
externalExecutionSummary`) only in the approval action's execution record. The package takes the same decision with
that person and the pipeline execution in its approval description, so the registry answers "who let this model in,
and in which run". A decision with no person recorded (an approval that expired, for instance) changes nothing: no
package becomes Approved or Rejected without someone's decision.

The registry's status is a display; what deploys trust is the approval record (`approval_record`), written here
only after reading that very execution's approval and checking that the package is the one the execution
registered, in this environment's model package group. Which pipeline and which approval actions to read is the
function's own configuration (`PIPELINE_NAME`, `<ROLE>_STAGE`, `<ROLE>_ACTION`, set by the stack), never the
invocation's, and the action read must be a Manual approval of that execution. Anyone able to invoke the function can
therefore only record decisions people really made about the packages they were really asked about.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from safedeploy.errors import InputError
from safedeploy.lambda_actions.pipeline_job import UUID_PATTERN, ActionFailed, matching_text, required_env
from safedeploy.lambda_actions.registry_api import Registry
from safedeploy.trust.approval_record import MODEL_DECISION, ApprovalRecord, RecordStore
from safedeploy.trust.evidence import PackageEvidence
from safedeploy.write_once import served_artifact_refusal

APPROVED = "Approved"
REJECTED = "Rejected"
# The output variable the Train action exports; the only link from a pipeline execution to its model package.
PACKAGE_ARN_VARIABLE = "MODEL_PACKAGE_ARN"
# ApprovalDescription's length limit in SageMaker UpdateModelPackage.
DESCRIPTION_LIMIT = 1024
# A Manual approval action ends Succeeded when approved and Failed when rejected (or expired).
_OUTCOMES = {"Succeeded": APPROVED, "Failed": REJECTED}
_STATE_CHANGE = "CodePipeline Action Execution State Change"
_MANUAL_APPROVAL = ("Approval", "Manual")  # actionTypeId category and provider
# The function's configuration: its pipeline, and per approval role the stage and action names
# (`APPROVAL_STAGE`/`APPROVAL_ACTION`, `PROMOTION_APPROVAL_STAGE`/`PROMOTION_APPROVAL_ACTION`).
PIPELINE_NAME_ENV = "PIPELINE_NAME"
MODEL_APPROVAL, PROMOTION_APPROVAL = "APPROVAL", "PROMOTION_APPROVAL"
_NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class ApprovalAction:
    """One Manual approval action in one pipeline execution."""

    pipeline_name: str
    execution_id: str
    stage_name: str
    action_name: str

    def __str__(self) -> str:
        return f"{self.stage_name}/{self.action_name} of {self.pipeline_name} execution {self.execution_id}"


@dataclass(frozen=True)
class ApprovalDecision:
    status: str
    approver: str
    comment: str
    action: ApprovalAction
    action_execution_id: str = ""
    decided_at: str = ""

    def description(self) -> str:
        """The model package's approval description: who, where, and the approver's own words."""
        text = f"{self.status} by {self.approver} in {self.action}"
        if self.comment:
            text += f": {self.comment}"
        return text if len(text) <= DESCRIPTION_LIMIT else text[: DESCRIPTION_LIMIT - 1] + "…"


def list_execution_actions(codepipeline: Any, pipeline_name: str, execution_id: str) -> list[dict[str, Any]]:
    """Every action execution of one pipeline execution (ListActionExecutions, all pages)."""
    pages = codepipeline.get_paginator("list_action_executions").paginate(
        pipelineName=pipeline_name, filter={"pipelineExecutionId": execution_id}
    )
    return [detail for page in pages for detail in page.get("actionExecutionDetails", [])]


def decision_from(executions: Sequence[Mapping[str, Any]], action: ApprovalAction) -> ApprovalDecision:
    """The latest decided run of `action`; refuses an undecided one and one with no person recorded."""
    runs = [
        run
        for run in executions
        if run.get("stageName") == action.stage_name
        and run.get("actionName") == action.action_name
        and run.get("pipelineExecutionId") == action.execution_id
    ]
    if not runs:
        raise ActionFailed(f"approval action {action} has not run; the model package was left unchanged")
    latest = max(runs, key=_last_update)
    kind = ((latest.get("input") or {}).get("actionTypeId")) or {}
    if (kind.get("category"), kind.get("provider")) != _MANUAL_APPROVAL:
        raise ActionFailed(
            f"action {action} is {kind.get('category')}/{kind.get('provider')}, not a Manual approval; "
            "the model package was left unchanged"
        )
    status = latest.get("status")
    if status not in _OUTCOMES:
        raise ActionFailed(f"approval action {action} is {status}, not decided; the model package was left unchanged")
    approver = (latest.get("updatedBy") or "").strip()
    if not approver:
        raise ActionFailed(
            f"approval action {action} ended {status} with no approving person recorded; "
            "the model package was left unchanged"
        )
    result = (latest.get("output") or {}).get("executionResult") or {}
    return ApprovalDecision(
        status=_OUTCOMES[status],
        approver=approver,
        comment=(result.get("externalExecutionSummary") or "").strip(),
        action=action,
        action_execution_id=str(latest.get("actionExecutionId") or ""),
        decided_at=_last_update(latest).isoformat(),
    )


def find_decision(codepipeline: Any, action: ApprovalAction) -> ApprovalDecision:
    return decision_from(list_execution_actions(codepipeline, action.pipeline_name, action.execution_id), action)


def package_arn_of_execution(codepipeline: Any, pipeline_name: str, execution_id: str) -> str:
    """The model package a pipeline execution trained, from the Train action's output variables."""
    values = {
        variables[PACKAGE_ARN_VARIABLE]
        for run in list_execution_actions(codepipeline, pipeline_name, execution_id)
        if PACKAGE_ARN_VARIABLE in (variables := (run.get("output") or {}).get("outputVariables") or {})
    }
    if len(values) != 1:
        found = "none" if not values else ", ".join(sorted(values))
        raise ActionFailed(
            f"execution {execution_id} of {pipeline_name} must export exactly one {PACKAGE_ARN_VARIABLE}; found {found}"
        )
    return values.pop()


def approval_record(decision: ApprovalDecision, evidence: PackageEvidence, kind: str) -> ApprovalRecord:
    return ApprovalRecord(
        decision=kind,
        package_arn=evidence.package_arn,
        pipeline_name=decision.action.pipeline_name,
        pipeline_execution_id=decision.action.execution_id,
        approval_action=f"{decision.action.stage_name}/{decision.action.action_name}",
        action_execution_id=decision.action_execution_id,
        result=decision.status,
        approver=decision.approver,
        comment=decision.comment,
        decided_at=decision.decided_at,
        evidence=evidence,
    )


def registered_evidence(
    codepipeline: Any, sm: Any, action: ApprovalAction, package_arn: str, group: str, bucket: str
) -> PackageEvidence:
    """The package's evidence, once it is known to be the one `action`'s execution registered, in `group`, with its
    artifact under `bucket`'s write-once `models/`."""
    registered = package_arn_of_execution(codepipeline, action.pipeline_name, action.execution_id)
    if registered != package_arn:
        raise ActionFailed(
            f"{package_arn} is not the model package execution {action.execution_id} registered ({registered}); "
            "no approval was recorded"
        )
    try:
        evidence = PackageEvidence.of_group(sm, package_arn, group)
    except ValueError as error:
        raise ActionFailed(f"{error}; no approval was recorded") from None
    refusal = served_artifact_refusal(evidence.model_data_url, bucket)
    if refusal:
        raise ActionFailed(f"{refusal}; no approval was recorded")
    return evidence


def sync_approval(
    codepipeline: Any,
    sm: Any,
    registry: Registry,
    action: ApprovalAction,
    package_arn: str,
    records: RecordStore,
    group: str,
) -> tuple[ApprovalDecision, str]:
    """Record the decision a person made in `action` (write-once), then show it on the model package."""
    evidence = registered_evidence(codepipeline, sm, action, package_arn, group, records.bucket)
    decision = find_decision(codepipeline, action)
    record_uri = records.write(approval_record(decision, evidence, MODEL_DECISION))
    registry.set_approval(sm, package_arn, decision.status, description=decision.description())
    return decision, record_uri


def run_approval_sync(
    codepipeline: Any,
    sm: Any,
    registry: Registry,
    action: ApprovalAction,
    package_arn: str,
    records: RecordStore,
    group: str,
) -> str:
    """The pipeline action: succeeds on an approval, fails (after recording it) on a rejection."""
    decision, record_uri = sync_approval(codepipeline, sm, registry, action, package_arn, records, group)
    message = f"{package_arn} is now {decision.description()} (record {record_uri})"
    if decision.status == REJECTED:
        raise ActionFailed(message)
    return message


def configured_approval(environ: Mapping[str, str], parameters: Mapping[str, Any], role: str) -> ApprovalAction:
    """The approval action `role` names in the function's configuration, in the execution UserParameters name.

    The pipeline and the action come from the environment the stack set; only the execution id
    (`#{codepipeline.PipelineExecutionId}`) comes from the job, which carries no pipeline context of its own.
    """
    return ApprovalAction(
        pipeline_name=required_env(environ, PIPELINE_NAME_ENV),
        execution_id=matching_text(parameters, "pipeline_execution_id", UUID_PATTERN, "a pipeline execution id"),
        stage_name=required_env(environ, f"{role}_STAGE"),
        action_name=required_env(environ, f"{role}_ACTION"),
    )


def approval_action_from_event(event: Mapping[str, Any], environ: Mapping[str, str]) -> ApprovalAction:
    """The approval action an EventBridge "CodePipeline Action Execution State Change" event reports on, once it is
    the model approval this function is configured for.

    A rejection fails the approval stage, so the pipeline never reaches the ApprovalSync action; an EventBridge rule
    on the approval action's FAILED state is how a rejection still reaches the model package.
    """
    if event.get("detail-type") != _STATE_CHANGE:
        shown = repr(event.get("detail-type"))
        raise InputError(f"expected a '{_STATE_CHANGE}' event, got detail-type {shown[:100]}")
    detail = event.get("detail")
    detail = detail if isinstance(detail, Mapping) else {}
    missing = [key for key in ("pipeline", "execution-id", "stage", "action") if not isinstance(detail.get(key), str)]
    if missing:
        raise InputError(f"'{_STATE_CHANGE}' event has no {', '.join(missing)} in its detail")
    if not re.fullmatch(UUID_PATTERN, detail["execution-id"]):
        raise InputError(f"'{_STATE_CHANGE}' event's execution-id is not a pipeline execution id")
    configured = configured_approval(environ, {"pipeline_execution_id": detail["execution-id"]}, MODEL_APPROVAL)
    reported = (detail["pipeline"], detail["stage"], detail["action"])
    if reported != (configured.pipeline_name, configured.stage_name, configured.action_name):
        shown = "/".join(repr(name[:100]) for name in reported[1:]) + f" of {reported[0][:100]!r}"
        raise InputError(
            f"'{_STATE_CHANGE}' event reports {shown}; this function records "
            f"{configured.stage_name}/{configured.action_name} of {configured.pipeline_name} only"
        )
    return configured


def _last_update(run: Mapping[str, Any]) -> datetime:
    return run.get("lastUpdateTime") or run.get("startTime") or _NEVER
