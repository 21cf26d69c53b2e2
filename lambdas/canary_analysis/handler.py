"""EventBridge schedule (every minute) -> one canary analysis of this environment's endpoint.

"Now" is the scheduled event's `time`, not the clock: a late or replayed invocation judges the minute it was meant
for, and a simulator can drive minutes without sleeping.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import asdict
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from safedeploy.canary.analysis import analyze_endpoint
from safedeploy.lambda_actions.aws_clients import AwsClients
from safedeploy.scheduled_event import event_time

logger = Logger()
tracer = Tracer()
metrics = Metrics()
clients = AwsClients()
# Most minutes nothing deploys and nothing is counted; Powertools' documented way to drop its warning for that.
warnings.filterwarnings("ignore", "No application metrics to publish*")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=EventBridgeEvent)
def handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    now = event_time(event.get("time"))
    outcome = analyze_endpoint(clients, os.environ["SAFEDEPLOY_PROJECT"], os.environ["SAFEDEPLOY_ENV"], now)
    if outcome.verdict_metric is None:
        logger.error("canary analysis published no verdict", extra={"detail": outcome.detail})
        metrics.add_metric(name="CanaryAnalysisBlind", unit=MetricUnit.Count, value=1)
    elif outcome.record:
        logger.info("canary decision", extra={"decision_record": outcome.record, "record_uri": outcome.record_uri})
        metrics.add_metric(name=f"Canary{outcome.decision.title()}", unit=MetricUnit.Count, value=1)
    else:
        logger.debug("no deployment to analyze", extra={"detail": outcome.detail})
    summary = asdict(outcome)
    summary.pop("record")
    return summary
