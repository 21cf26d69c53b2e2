"""The hourly drift job of one environment: the last complete hour of production against the live baseline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from safedeploy.drift import store
from safedeploy.drift.check import DriftPolicy, run_check


@dataclass(frozen=True)
class DriftOutcome:
    status: str  # "checked", or why not: "no endpoint or baseline"
    drifted: tuple[str, ...] = ()
    record_uri: str | None = None
    skipped_histograms: int = 0


def run_drift_job(
    sm: Any, s3: Any, cloudwatch: Any, *, bucket: str, endpoint_name: str, now: datetime, policy: DriftPolicy
) -> DriftOutcome:
    """Judge the hour before `now` (the scheduled time, so a retried run judges the same hour)."""
    live = store.live_baseline(sm, s3, endpoint_name)
    if live is None:
        return DriftOutcome("no endpoint or baseline")
    hour = (now - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    counts, skipped = store.hour_counts(s3, bucket, endpoint_name, hour, live)
    state = store.read_state(s3, bucket, endpoint_name)
    check, state = run_check(
        live.baseline, live.digest, counts, state, policy, package_arn=live.package_arn, checked_at=hour.isoformat()
    )
    uri = store.record_check(s3, bucket, endpoint_name, now, check)
    store.write_state(s3, bucket, endpoint_name, state)
    store.publish_check(cloudwatch, endpoint_name, now, check)
    return DriftOutcome("checked", check.drifted, uri, skipped)
