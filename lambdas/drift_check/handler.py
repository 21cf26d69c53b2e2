"""EventBridge schedule (hourly by default) -> one drift check of this environment's live model.

"Now" is the scheduled event's `time`, so a late or retried invocation judges the hour it was meant for.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from safedeploy.drift.check import DriftPolicy
from safedeploy.drift.job import run_drift_job
from safedeploy.lambda_actions.aws_clients import AwsClients
from safedeploy.scheduled_event import event_time

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
@event_source(data_class=EventBridgeEvent)
def handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    now = event_time(event.get("time"))
    outcome = run_drift_job(
        clients("sagemaker"),
        clients("s3"),
        clients("cloudwatch"),
        bucket=os.environ["ARTIFACTS_BUCKET"],
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
