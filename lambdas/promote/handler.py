"""Promote: commits release.json naming the approved package to the production repository.

UserParameters: {"model_package_arn": "#{Train.MODEL_PACKAGE_ARN}", "source_commit": "#{Source.CommitId}",
"pipeline_name": ..., "pipeline_execution_id": "#{codepipeline.PipelineExecutionId}", "approval_stage": ...,
"approval_action": ..., "promotion_approval_stage": ..., "promotion_approval_action": ...}.
Environment: RELEASE_REPOSITORY and RELEASE_BRANCH, the repository and branch the production pipeline watches.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from safedeploy.release_control.approval_record import RecordScope
from safedeploy.release_control.aws_clients import AwsClients
from safedeploy.release_control.pipeline_job import complete_job, job_parameters, open_job
from safedeploy.release_control.promotion import PromotionRequest, ReleaseTarget, run_promotion
from safedeploy.release_control.registry_api import default_registry

logger = Logger()
tracer = Tracer()
clients = AwsClients()


@logger.inject_lambda_context(log_event=False)  # the job event carries temporary artifact credentials
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    job = open_job(event)

    def promote() -> str:
        scope = RecordScope.from_environment(clients("s3"), os.environ)
        return run_promotion(
            codepipeline=clients("codepipeline"),
            codecommit=clients("codecommit"),
            sm=clients("sagemaker"),
            s3=clients("s3"),
            registry=default_registry(),
            request=PromotionRequest.from_parameters(job_parameters(job)),
            target=ReleaseTarget.from_environment(os.environ),
            now=datetime.now(UTC),
            records=scope.records,
            group=scope.group,
        )

    outcome = complete_job(clients("codepipeline"), job.get_id, promote)
    logger.info("promotion finished", extra={"succeeded": outcome.succeeded})
    return asdict(outcome)
