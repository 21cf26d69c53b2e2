"""EventBridge schedule (every minute) -> one canary analysis of this environment's endpoint.

"Now" is the clock's (`safedeploy.clock`), never the event's `time`: anyone with `lambda:InvokeFunction` chooses the
event, and a record dated ahead would stay the newest of its deployment. The event carries nothing else the analysis
reads, so any event, however malformed, runs the same analysis of the same minute.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import asdict
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from safedeploy import clock
from safedeploy.canary.analysis import analyze_endpoint
from safedeploy.lambda_actions.aws_clients import AwsClients

logger = Logger()
tracer = Tracer()
metrics = Metrics()
clients = AwsClients()
# Most minutes nothing deploys and nothing is counted; Powertools' documented way to drop its warning for that.
warnings.filterwarnings("ignore", "No application metrics to publish*")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: object, context: LambdaContext) -> dict[str, Any]:
    outcome = analyze_endpoint(clients, os.environ["SAFEDEPLOY_PROJECT"], os.environ["SAFEDEPLOY_ENV"], clock.utc_now())
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
