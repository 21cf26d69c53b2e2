"""ApprovalSync: copies the person's decision in the pipeline's Manual approval onto the model package.

Two triggers:
- the pipeline's ApprovalSync action (a CodePipeline job) right after an approval, with UserParameters
  {"model_package_arn": "#{Train.MODEL_PACKAGE_ARN}", "pipeline_execution_id": "#{codepipeline.PipelineExecutionId}"};
  the pipeline and approval action it reads are its own configuration (PIPELINE_NAME, APPROVAL_STAGE,
  APPROVAL_ACTION), never the invocation's;
- an EventBridge "CodePipeline Action Execution State Change" event for the approval action: a rejection fails the
  approval stage, so only this route carries it to the package (found from the execution's MODEL_PACKAGE_ARN).
"""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from safedeploy.lambda_actions.approvals import (
    MODEL_APPROVAL,
    approval_action_from_event,
    configured_approval,
    package_arn_of_execution,
    run_approval_sync,
    sync_approval,
)
from safedeploy.lambda_actions.aws_clients import AwsClients
from safedeploy.lambda_actions.pipeline_job import ActionFailed, package_arn_parameter, run_job
from safedeploy.lambda_actions.registry_api import default_registry
from safedeploy.trust.approval_record import RecordScope

logger = Logger()
tracer = Tracer()
clients = AwsClients()


@logger.inject_lambda_context(log_event=False)  # the job event carries temporary artifact credentials
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if isinstance(event, dict) and "detail-type" in event:
        return _on_state_change(event)

    def sync(parameters: dict[str, Any]) -> str:
        action = configured_approval(os.environ, parameters, MODEL_APPROVAL)
        package_arn = package_arn_parameter(parameters)
        scope = RecordScope.from_environment(clients("s3"), os.environ)
        return run_approval_sync(
            clients("codepipeline"),
            clients("sagemaker"),
            default_registry(),
            action,
            package_arn,
            scope.records,
            scope.group,
        )

    outcome = run_job(event, lambda: clients("codepipeline"), sync)
    logger.info("approval sync finished", extra={"succeeded": outcome.succeeded})
    return asdict(outcome)


def _on_state_change(event: dict[str, Any]) -> dict[str, Any]:
    codepipeline = clients("codepipeline")
    try:
        action = approval_action_from_event(event, os.environ)
        package_arn = package_arn_of_execution(codepipeline, action.pipeline_name, action.execution_id)
        scope = RecordScope.from_environment(clients("s3"), os.environ)
        decision, _ = sync_approval(
            codepipeline, clients("sagemaker"), default_registry(), action, package_arn, scope.records, scope.group
        )
    except (ActionFailed, ValueError, ClientError, BotoCoreError) as refusal:
        message = " ".join(str(refusal).split())  # one line, whatever AWS or the event said
        logger.warning("approval not synchronised", extra={"reason": message})
        return {"synchronised": False, "message": message}
    logger.info("approval synchronised", extra={"package_arn": package_arn, "status": decision.status})
    return {"synchronised": True, "message": f"{package_arn} is now {decision.description()}"}
