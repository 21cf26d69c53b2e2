"""Promote: commits release.json naming the approved package to the next environment's repository.

A training environment promotes the package it trained; UserParameters: {"model_package_arn":
"#{Train.MODEL_PACKAGE_ARN}", "source_commit": "#{Source.CommitId}", "pipeline_execution_id":
"#{codepipeline.PipelineExecutionId}"}.
An environment in the middle of a chain forwards the release it deployed; UserParameters then carry
"release_repository" and "release_commit" (`#{Source.CommitId}`) instead of the package ARN and source commit.
Environment: RELEASE_REPOSITORY and RELEASE_BRANCH, the repository and branch the next pipeline watches; and which
approvals to read, never taken from the invocation: PIPELINE_NAME, APPROVAL_STAGE/APPROVAL_ACTION (the model's, or
in a release pipeline the release's) and PROMOTION_APPROVAL_STAGE/PROMOTION_APPROVAL_ACTION.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from safedeploy import clock
from safedeploy.guardrails.rolled_back import RolledBackMarks
from safedeploy.lambda_actions.aws_clients import AwsClients
from safedeploy.lambda_actions.forwarding import RELEASE_COMMIT_PARAMETER, ForwardRequest, run_forwarding
from safedeploy.lambda_actions.pipeline_job import run_job
from safedeploy.lambda_actions.promotion import PromotionRequest, ReleaseTarget, run_promotion
from safedeploy.lambda_actions.registry_api import default_registry
from safedeploy.trust.approval_record import RecordScope

logger = Logger()
tracer = Tracer()
clients = AwsClients()


@logger.inject_lambda_context(log_event=False)  # the job event carries temporary artifact credentials
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    def promote(parameters: dict[str, Any]) -> str:
        scope = RecordScope.from_environment(clients("s3"), os.environ)
        shared = {
            "codepipeline": clients("codepipeline"),
            "codecommit": clients("codecommit"),
            "sm": clients("sagemaker"),
            "registry": default_registry(),
            "marks": RolledBackMarks(clients("s3"), scope.records.bucket),
            "target": ReleaseTarget.from_environment(os.environ),
            "now": clock.utc_now(),
        }
        if RELEASE_COMMIT_PARAMETER in parameters:
            return run_forwarding(**shared, request=ForwardRequest.from_parameters(parameters, os.environ))
        return run_promotion(
            **shared,
            s3=clients("s3"),
            request=PromotionRequest.from_parameters(parameters, os.environ),
            records=scope.records,
            group=scope.group,
        )

    outcome = run_job(event, lambda: clients("codepipeline"), promote)
    logger.info("promotion finished", extra={"succeeded": outcome.succeeded})
    return asdict(outcome)
