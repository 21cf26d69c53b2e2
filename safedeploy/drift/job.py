"""The hourly drift job of one environment: the last complete hour of production against the live baseline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from safedeploy import registry
from safedeploy.drift import store
from safedeploy.drift.check import DriftPolicy, run_check
from safedeploy.drift.quality import QualityCheck, accuracy_check


@dataclass(frozen=True)
class DriftOutcome:
    status: str  # "checked", or why not: "no endpoint or baseline", "hour already checked"
    drifted: tuple[str, ...] = ()
    record_uri: str | None = None
    skipped_histograms: int = 0
    quality: QualityCheck | None = None


def run_drift_job(
    sm: Any,
    s3: Any,
    cloudwatch: Any,
    *,
    bucket: str,
    work_bucket: str,
    endpoint_name: str,
    now: datetime,
    policy: DriftPolicy,
    accuracy_margin: float = 0.02,
) -> DriftOutcome:
    """Judge the hour before `now` (the clock's time: see `safedeploy.clock`). `bucket`: the baselines and the
    write-once decision records; `work_bucket`: the histograms and the check's state."""
    live = store.live_baseline(sm, s3, endpoint_name, own_bucket=bucket)
    if live is None:
        return DriftOutcome("no endpoint or baseline")
    hour = (now - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    if _checked_already(store.latest_record(s3, bucket, endpoint_name), live.package_arn, hour):
        # Anyone with lambda:InvokeFunction can run the check again: an hour is folded into the state once.
        return DriftOutcome("hour already checked")
    counts, skipped = store.hour_counts(s3, work_bucket, endpoint_name, hour, live)
    state = store.read_state(s3, work_bucket, endpoint_name)
    check, state = run_check(
        live.baseline, live.digest, counts, state, policy, package_arn=live.package_arn, checked_at=hour.isoformat()
    )
    uri = store.record_check(s3, bucket, endpoint_name, now, check)
    store.write_state(s3, work_bucket, endpoint_name, state)
    store.publish_check(cloudwatch, endpoint_name, now, check)
    quality = _quality(sm, s3, cloudwatch, work_bucket, endpoint_name, hour, now, live, policy.alpha, accuracy_margin)
    return DriftOutcome("checked", check.drifted, uri, skipped, quality)


def _checked_already(latest: dict[str, Any] | None, package_arn: str, hour: datetime) -> bool:
    """Whether the newest record already judged `hour` (or a later one) of the same live package."""
    if not latest or latest.get("package_arn") != package_arn or not isinstance(latest.get("checked_at"), str):
        return False
    try:
        return datetime.fromisoformat(latest["checked_at"]) >= hour
    except ValueError:
        return False


def _quality(
    sm: Any,
    s3: Any,
    cloudwatch: Any,
    work_bucket: str,
    endpoint_name: str,
    hour: datetime,
    now: datetime,
    live: store.LiveBaseline,
    alpha: float,
    margin: float,
) -> QualityCheck | None:
    """The hour's gateway feedback against the package's registered accuracy; None when it registered none."""
    try:
        reference = registry.package_metrics(sm, s3, live.package_arn).get("accuracy")
    except ValueError:  # no readable report: nothing to compare against
        return None
    if reference is None:
        return None
    received, correct = store.hour_feedback(cloudwatch, endpoint_name, hour)
    state = store.read_quality_state(s3, work_bucket, endpoint_name, live.package_arn)
    rows = live.baseline.score.rows if live.baseline.score is not None else 0
    check = accuracy_check(
        state, received, correct, reference_accuracy=reference, reference_rows=rows, margin=margin, alpha=alpha
    )
    store.write_quality_state(s3, work_bucket, endpoint_name, live.package_arn, state)
    store.publish_quality(cloudwatch, endpoint_name, now, check)
    return check
