"""EventBridge schedule (hourly by default) -> one drift check of this environment's live model.

"Now" is the clock's (`safedeploy.clock`), never the event's `time`, which any invoker chooses: a drift record dated
ahead would stand as the newest. The event carries nothing the check reads.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from safedeploy import clock
from safedeploy.drift.check import DriftPolicy
from safedeploy.drift.job import run_drift_job
from safedeploy.lambda_actions.aws_clients import AwsClients

logger = Logger()
tracer = Tracer()
metrics = Metrics()
clients = AwsClients()


def _policy() -> DriftPolicy:
    return DriftPolicy(
        alpha=float(os.environ["DRIFT_ALPHA"]),
        period_looks=int(os.environ["DRIFT_PERIOD_LOOKS"]),
        sensitivity=float(os.environ["DRIFT_SENSITIVITY"]),
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: object, context: LambdaContext) -> dict[str, Any]:
    now = clock.utc_now()
    outcome = run_drift_job(
        clients("sagemaker"),
        clients("s3"),
        clients("cloudwatch"),
        bucket=os.environ["ARTIFACTS_BUCKET"],
        work_bucket=os.environ["DRIFT_BUCKET"],
        endpoint_name=os.environ["ENDPOINT_NAME"],
        now=now,
        policy=_policy(),
        accuracy_margin=float(os.environ["DRIFT_ACCURACY_MARGIN"]),
    )
    if outcome.drifted:
        logger.warning("drift detected", extra={"columns": outcome.drifted, "record_uri": outcome.record_uri})
        metrics.add_metric(name="DriftDetected", unit=MetricUnit.Count, value=1)
    if outcome.quality is not None and outcome.quality.degraded:
        logger.warning("model quality degraded", extra={"quality": asdict(outcome.quality)})
    else:
        logger.info("drift check", extra=asdict(outcome))
    return asdict(outcome)
