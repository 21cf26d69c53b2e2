"""What one acceptance run leaves for the checks to read: each release's timeline and the clients to look with.

The timeline is recorded by wrapping the SageMaker client the library's own deploy uses: every DescribeEndpoint the
deploy's waiter makes is kept with the time it answered, so the checks read what SageMaker showed, not what the
library concluded from it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from safedeploy.guardrails.settings import DeploymentSettings


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    description: Mapping[str, Any]  # a DescribeEndpoint response


class RecordingSageMaker:
    """A SageMaker client that keeps every DescribeEndpoint answer; every other call passes through unchanged."""

    def __init__(self, sm: Any, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._sm, self._clock = sm, clock
        self.entries: list[TimelineEntry] = []

    def describe_endpoint(self, **kwargs: Any) -> dict[str, Any]:
        response = self._sm.describe_endpoint(**kwargs)
        self.entries.append(TimelineEntry(self._clock(), response))
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sm, name)


@dataclass(frozen=True)
class ReleaseEvidence:
    """One guarded release: the package, the fleets (configs) before and after, and what SageMaker showed meanwhile."""

    package_arn: str
    blue_config: str
    green_config: str
    started_at: datetime
    ended_at: datetime
    timeline: tuple[TimelineEntry, ...]
    rolled_back: bool
    error: str | None = None  # the deploy's one-line error (expected for the forced rollback)
    instance_count_before: int | None = None


@dataclass(frozen=True)
class RoleProbe:
    """A missing key read as one role: the S3 client holds that role's credentials."""

    role: str
    s3: Any
    bucket: str
    key: str


@dataclass(frozen=True)
class VerdictSilence:
    """The canary analysis stopped (its schedule disabled) at `silenced_at`; the CanaryVerdict alarm went to ALARM
    at `alarm_at`, or not within `waited`."""

    silenced_at: datetime
    alarm_at: datetime | None
    waited: timedelta


@dataclass(frozen=True)
class RunEvidence:
    project: str
    env: str
    endpoint_name: str
    settings: DeploymentSettings
    client: Callable[[str], Any]  # the operator's clients, by service name
    healthy: ReleaseEvidence
    harmful: ReleaseEvidence
    locked_bucket: str | None = None  # the bucket with S3 Object Lock, when the environment has one
    pipeline_name: str | None = None
    role_probes: Sequence[RoleProbe] = field(default_factory=tuple)
    # DescribeEndpoint's LastModifiedTime before and after the scale-out (an UpdateEndpointWeightsAndCapacities)
    weights_modified: tuple[datetime | None, datetime | None] = (None, None)
    verdict_silence: VerdictSilence | None = None
