"""Bounded retries for SageMaker's documented eventual consistency around a just-created endpoint config.

CreateEndpoint (and UpdateEndpoint, which reads the config the same way) verifies the endpoint config with an
eventually consistent read, so right after CreateEndpointConfig it can fail with a ValidationException "Could not
find endpoint configuration"; SageMaker's API reference recommends retrying. Only that error is retried, a few
times with growing waits and a progress line each; anything else, or the same error after the last wait, is raised.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from safedeploy.guardrails.endpoint_status import Progress

T = TypeVar("T")

NOT_YET_VISIBLE = "Could not find endpoint configuration"
# About half a minute in all: far longer than the read lag, short enough to fail a build quickly when the config
# really is missing.
RETRY_DELAYS_SECONDS = (1.0, 2.0, 4.0, 8.0, 15.0)


def not_yet_visible(error: ClientError) -> bool:
    details = error.response.get("Error", {})
    return details.get("Code") == "ValidationException" and NOT_YET_VISIBLE in details.get("Message", "")


def call_when_visible(
    call: Callable[..., T],
    *,
    progress: Progress = print,
    sleep: Callable[[float], None] = time.sleep,
    delays: Sequence[float] = RETRY_DELAYS_SECONDS,
    **request: Any,
) -> T:
    """`call(**request)`, retried while SageMaker cannot see `request["EndpointConfigName"]` yet."""
    for attempt, delay in enumerate(delays, start=1):
        try:
            return call(**request)
        except ClientError as error:
            if not not_yet_visible(error):
                raise
            progress(
                f"{error.operation_name}: SageMaker does not see endpoint config {request.get('EndpointConfigName')} "
                f"yet (eventually consistent); retry {attempt}/{len(delays)} in {delay:g} s"
            )
            sleep(delay)
    return call(**request)
