"""Readiness: can this task serve predictions, i.e. does the endpoint exist and take traffic?

The answer is cached for a few seconds and shared by concurrent probes (the ALB probes every task from each of its
nodes), so health checks cost at most one DescribeEndpoint per task per cache period. An endpoint in the middle of
a deployment (Updating, RollingBack...) still answers requests, so it counts as ready: otherwise every model
release would mark every gateway task unhealthy and make ECS replace them all.

Before the first model is deployed the endpoint does not exist (or is still Creating), yet `cdk deploy` must bring
the gateway up: a target group that never turns healthy makes ECS's circuit breaker fail the stack. Those bootstrap
states are ready with status `awaiting_endpoint` (predictions answer 503 with Retry-After meanwhile); an endpoint
that existed and stopped serving, or a DescribeEndpoint that fails, is not ready.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

SERVING_STATUSES = frozenset({"InService", "Updating", "SystemUpdating", "RollingBack", "UpdateRollbackFailed"})
NOT_FOUND = "NotFound"
BOOTSTRAP_STATUSES = frozenset({NOT_FOUND, "Creating"})

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Readiness:
    ready: bool
    endpoint_status: str
    detail: str

    @property
    def state(self) -> str:
        if not self.ready:
            return "not_ready"
        return "awaiting_endpoint" if self.endpoint_status in BOOTSTRAP_STATUSES else "ready"


def readiness_of(description: Mapping[str, Any]) -> Readiness:
    status = str(description.get("EndpointStatus", "Unknown"))
    if status in SERVING_STATUSES:
        return Readiness(True, status, "the endpoint takes traffic")
    if status in BOOTSTRAP_STATUSES:
        return Readiness(True, status, "the first model is being deployed; predictions answer 503 until InService")
    reason = description.get("FailureReason") or "the endpoint does not take traffic in this state"
    return Readiness(False, status, str(reason))


def _failed_call(error: Exception) -> Readiness:
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        message = str(details.get("Message", ""))
        if "could not find" in message.lower() or "not found" in message.lower():
            return Readiness(True, NOT_FOUND, "no model deployed yet; predictions answer 503 until one is")
        return Readiness(False, "Unknown", f"DescribeEndpoint failed: {details.get('Code', 'error')}")
    return Readiness(False, "Unknown", f"DescribeEndpoint failed: {type(error).__name__}")


class ReadinessProbe:
    def __init__(
        self, describe: Callable[[], Mapping[str, Any]], ttl_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._describe = describe
        self._ttl = ttl_seconds
        self._clock = clock
        self._cached: tuple[float, Readiness] | None = None
        self._lock = asyncio.Lock()

    def _fresh(self) -> Readiness | None:
        if self._cached is not None and self._clock() - self._cached[0] < self._ttl:
            return self._cached[1]
        return None

    async def check(self) -> Readiness:
        fresh = self._fresh()
        if fresh is not None:
            return fresh
        async with self._lock:
            fresh = self._fresh()  # another probe may have refreshed it while this one waited
            if fresh is not None:
                return fresh
            try:
                readiness = readiness_of(await asyncio.to_thread(self._describe))
            except (BotoCoreError, ClientError) as error:
                readiness = _failed_call(error)
            self._log_change(readiness)
            self._cached = (self._clock(), readiness)
            return readiness

    def _log_change(self, readiness: Readiness) -> None:
        """Details (which can name roles and S3 URIs) are for the operator's log, once per change, never callers."""
        if self._cached is not None and self._cached[1] == readiness:
            return
        level = logging.INFO if readiness.ready else logging.WARNING
        fields = {"state": readiness.state, "endpoint_status": readiness.endpoint_status, "detail": readiness.detail}
        logger.log(level, "readiness changed", extra={"fields": fields})
