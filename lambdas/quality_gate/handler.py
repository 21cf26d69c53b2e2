"""CodePipeline QualityGate action: the candidate model package against thresholds and the live model.

UserParameters: {"model_package_arn": "#{Train.MODEL_PACKAGE_ARN}", "thresholds": {...}, "skew": {...}} where
"thresholds" is the `quality_gate` section of cdk.json (without it the function's QUALITY_GATE_THRESHOLDS, the same
JSON, applies) and the optional "skew" says whether training-serving skew blocks (the baselines' bucket, the live
traffic's histograms' bucket and the endpoint are the function's ARTIFACTS_BUCKET, DRIFT_BUCKET and ENDPOINT_NAME).
"""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from safedeploy.lambda_actions.aws_clients import AwsClients
from safedeploy.lambda_actions.pipeline_job import JobSuccess, package_arn_parameter, run_job
from safedeploy.lambda_actions.quality_gate import SkewSettings, resolve_policy, run_quality_gate
from safedeploy.lambda_actions.registry_api import default_registry

logger = Logger()
tracer = Tracer()
clients = AwsClients()


@logger.inject_lambda_context(log_event=False)  # the job event carries temporary artifact credentials
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    def gate(parameters: dict[str, Any]) -> JobSuccess:
        package_arn = package_arn_parameter(parameters)
        policy = resolve_policy(parameters, os.environ)
        skew = SkewSettings.from_parameters(parameters, os.environ)
        return run_quality_gate(clients("sagemaker"), clients("s3"), default_registry(), package_arn, policy, skew)

    outcome = run_job(event, lambda: clients("codepipeline"), gate)
    logger.info("quality gate finished", extra={"succeeded": outcome.succeeded})
    return asdict(outcome)
