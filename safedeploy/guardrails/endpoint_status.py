"""What an endpoint is doing now, waiting until it stops changing, and judging where a deployment ended.

A deploy that finds the endpoint Updating waits instead of clobbering the other deployment; a deploy that started
one waits until SageMaker is done and then checks which config is live, because SageMaker's auto-rollback ends
InService too, only on the old config.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from safedeploy.guardrails.errors import DeploymentFailed

IN_SERVICE = "InService"
# Statuses in which the endpoint is still changing by itself.
CHANGING = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"})

Progress = Callable[[str], None]


@dataclass(frozen=True)
class VariantState:
    name: str
    current_weight: float
    current_instance_count: int | None
    statuses: tuple[str, ...] = ()
    # When the variant's current "Baking" status began: its traffic is on (ProductionVariantStatus.StartTime).
    baking_since: datetime | None = None

    @classmethod
    def from_summary(cls, summary: dict[str, Any]) -> VariantState:
        statuses = summary.get("VariantStatus", [])
        baking = [status.get("StartTime") for status in statuses if status["Status"] == "Baking"]
        return cls(
            name=summary["VariantName"],
            current_weight=float(summary.get("CurrentWeight", 0.0)),
            current_instance_count=summary.get("CurrentInstanceCount"),
            statuses=tuple(status["Status"] for status in statuses),
            baking_since=baking[0] if baking else None,
        )


@dataclass(frozen=True)
class EndpointSnapshot:
    name: str
    arn: str
    status: str
    config_name: str
    pending_config_name: str | None = None
    pending_started_at: datetime | None = None
    failure_reason: str | None = None
    variants: tuple[VariantState, ...] = ()
    shadow_variants: tuple[VariantState, ...] = ()
    pending_variants: tuple[VariantState, ...] = ()
    last_modified_at: datetime | None = None

    @classmethod
    def from_description(cls, description: dict[str, Any]) -> EndpointSnapshot:
        pending = description.get("PendingDeploymentSummary", {})
        return cls(
            name=description["EndpointName"],
            arn=description["EndpointArn"],
            status=description["EndpointStatus"],
            config_name=description.get("EndpointConfigName", ""),
            pending_config_name=pending.get("EndpointConfigName"),
            pending_started_at=pending.get("StartTime"),
            failure_reason=description.get("FailureReason"),
            variants=_variants(description.get("ProductionVariants", [])),
            shadow_variants=_variants(description.get("ShadowProductionVariants", [])),
            pending_variants=_variants(pending.get("ProductionVariants", [])),
            last_modified_at=description.get("LastModifiedTime"),
        )

    @property
    def changing(self) -> bool:
        return self.status in CHANGING

    def progress_line(self) -> str:
        line = f"endpoint {self.name}: {self.status} on {self.config_name}"
        if self.pending_config_name:
            line += f", deploying {self.pending_config_name}"
        details = [f"{v.name} {'/'.join(v.statuses)}" for v in (*self.variants, *self.pending_variants) if v.statuses]
        return line + (f" ({'; '.join(details)})" if details else "")


def _variants(summaries: list[dict[str, Any]]) -> tuple[VariantState, ...]:
    return tuple(VariantState.from_summary(summary) for summary in summaries)


def describe_endpoint(sm: Any, endpoint_name: str) -> EndpointSnapshot | None:
    """The endpoint's state, or None when it does not exist (yet, or any more)."""
    try:
        return EndpointSnapshot.from_description(sm.describe_endpoint(EndpointName=endpoint_name))
    except ClientError as error:
        if "Could not find endpoint" in error.response.get("Error", {}).get("Message", ""):
            return None
        raise


@dataclass
class EndpointWaiter:
    """Polls DescribeEndpoint until the endpoint stops changing, printing one progress line per poll.

    The poll interval, sleep and clock are injectable so that tests never sleep and a timeout can be tested.
    """

    sm: Any
    poll_seconds: float = 30.0
    timeout_seconds: float = 4 * 3600 + 1800
    progress: Progress = print
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    def until_settled(self, endpoint_name: str) -> EndpointSnapshot | None:
        started = self.clock()
        while True:
            snapshot = describe_endpoint(self.sm, endpoint_name)
            if snapshot is None or not snapshot.changing:
                return snapshot
            elapsed = self.clock() - started
            self.progress(f"{snapshot.progress_line()} [{elapsed:.0f} s]")
            if elapsed >= self.timeout_seconds:
                raise DeploymentFailed(
                    f"endpoint {endpoint_name} is still {snapshot.status} after {elapsed:.0f} s; stopped waiting. "
                    "SageMaker carries on with the deployment: check it with `aws sagemaker describe-endpoint`."
                )
            self.sleep(self.poll_seconds)


def expect_live(snapshot: EndpointSnapshot | None, endpoint_name: str, expected: str, previous: str | None) -> None:
    """Raise DeploymentFailed unless the endpoint ended InService on `expected`, saying what happened instead."""
    if snapshot is None:
        raise DeploymentFailed(f"endpoint {endpoint_name} disappeared while {expected} was being deployed")
    reason = f" Reason: {snapshot.failure_reason}" if snapshot.failure_reason else ""
    if snapshot.status == IN_SERVICE and snapshot.config_name == expected:
        return
    if snapshot.status == IN_SERVICE and snapshot.config_name == previous:
        raise DeploymentFailed(
            f"deployment of {expected} was rolled back by SageMaker: endpoint {endpoint_name} still serves "
            f"{previous} (an auto-rollback alarm fired during a bake, or the new fleet failed).{reason}"
        )
    if snapshot.status == "UpdateRollbackFailed":
        raise DeploymentFailed(
            f"deployment of {expected} failed and SageMaker's rollback failed too: endpoint {endpoint_name} serves a "
            f"mix of configs. Restore it with `safedeploy rollback --to {previous or '<config>'}`.{reason}"
        )
    raise DeploymentFailed(
        f"endpoint {endpoint_name} ended {snapshot.status} on {snapshot.config_name}, expected {IN_SERVICE} on "
        f"{expected}.{reason}"
    )
