"""EventBridge (canary verdicts of this environment's endpoint) -> one traffic action, or a logged refusal.

Any event at all may arrive (anyone with `lambda:InvokeFunction` chooses it): whatever its shape, the answer is an
action backed by a decision record, or a one-line refusal.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from safedeploy.canary.traffic import REFUSED, shift_traffic
from safedeploy.lambda_actions.aws_clients import AwsClients

logger = Logger()
tracer = Tracer()
metrics = Metrics()
clients = AwsClients()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: object, context: LambdaContext) -> dict[str, Any]:
    fields = event if isinstance(event, dict) else {}
    outcome = shift_traffic(
        clients,
        os.environ["SAFEDEPLOY_PROJECT"],
        os.environ["SAFEDEPLOY_ENV"],
        fields.get("detail-type"),
        fields.get("detail"),
    )
    if outcome.action == REFUSED:
        # A refusal is final (a retry would be refused again): logged and counted, not raised.
        logger.warning(outcome.detail, extra={"endpoint_name": outcome.endpoint_name, "source": fields.get("source")})
        metrics.add_metric(name="TrafficVerdictsRefused", unit=MetricUnit.Count, value=1)
    else:
        logger.info("traffic action", extra=asdict(outcome))
        metrics.add_metric(name="TrafficActions", unit=MetricUnit.Count, value=1)
    return asdict(outcome)
