"""Where the drift check reads and writes: the live package's verified baseline, the hour's production histograms,
the check's state, its decision record and its CloudWatch metrics.

Keys are `safedeploy.s3_layout`'s: in the drift bucket (working data, no Object Lock), the hour's histograms (each
`{"baseline_digest", "counts": {column: [count per bin]}}`, written by whatever observes production: the gateway's
per-minute histograms; expired after `HISTOGRAM_DAYS`) and the detectors' state, replaced every hour; in the
artifacts bucket, the baselines and the immutable drift decision records (write-once, the drift check's role alone).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from safedeploy import clock, registry
from safedeploy.canary.metric_names import GATEWAY_NAMESPACE
from safedeploy.canary.metrics import FEEDBACK_CORRECT, FEEDBACK_RECEIVED
from safedeploy.canary.outputs import write_record
from safedeploy.drift.baseline import Baseline, sha256_digest
from safedeploy.drift.check import DriftCheck, DriftState
from safedeploy.drift.quality import QualityCheck, QualityState
from safedeploy.errors import InputError
from safedeploy.guardrails import resource_tags
from safedeploy.s3_layout import (
    drift_record_key,
    drift_record_prefix,
    drift_state_key,
    histogram_prefix,
    quality_state_key,
    served_baseline_location,
)
from safedeploy.s3_objects import read_if_present

DRIFT_NAMESPACE = "SafeDeploy/Drift"
DRIFTED_METRIC = "DriftedColumns"
DEGRADED_METRIC = "AccuracyDegraded"
# The furthest back any reader looks: the quality gate's skew check (the drift check reads the last hour only).
HISTORY_DAYS = 7
# Histograms expire a day after the oldest hour a reader may still look at.
HISTOGRAM_DAYS = HISTORY_DAYS + 1


@dataclass(frozen=True)
class LiveBaseline:
    package_arn: str
    baseline: Baseline
    digest: str


def live_baseline(sm: Any, s3: Any, endpoint_name: str, own_bucket: str | None = None) -> LiveBaseline | None:
    """The baseline of the package the endpoint serves, checked against the digest the package records; None when
    no endpoint or no drift baseline exists (a package registered before baselines were attached)."""
    try:
        endpoint = sm.describe_endpoint(EndpointName=endpoint_name)
    except sm.exceptions.ClientError as error:
        if "Could not find endpoint" in str(error):
            return None
        raise
    package_arn = resource_tags.read_tags(sm, endpoint["EndpointArn"]).get(resource_tags.PACKAGE_ARN)
    if not package_arn:
        return None
    return package_baseline(sm, s3, package_arn, own_bucket)


def package_baseline(sm: Any, s3: Any, package_arn: str, own_bucket: str | None = None) -> LiveBaseline | None:
    """A package's drift baseline as this environment keeps it (`own_bucket`: a promoted package's verified copy),
    checked against the digest the package records; None when it has none."""
    source = registry.drift_baseline_source(sm, package_arn)
    if not source:
        return None
    bucket, key = served_baseline_location(source["S3Uri"], package_arn, own_bucket)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    digest = sha256_digest(body)
    if digest != source.get("ContentDigest"):
        raise InputError(
            f"{source['S3Uri']} has digest {digest}, but {package_arn} records {source.get('ContentDigest')}"
        )
    return LiveBaseline(package_arn, Baseline.from_json(body), digest)


def state_keys(endpoint_name: str) -> tuple[str, str]:
    """The drift check's replaced-every-hour state: the drift detector's and the accuracy test's."""
    return drift_state_key(endpoint_name), quality_state_key(endpoint_name)


def hour_counts(
    s3: Any, bucket: str, endpoint_name: str, hour: datetime, live: LiveBaseline
) -> tuple[dict[str, np.ndarray], int]:
    """Summed counts of the hour's histograms built against this baseline, and how many were skipped (built
    against another model's bins, e.g. during a deployment, or malformed)."""
    totals = {reference.name: np.zeros(reference.bins, dtype=np.int64) for reference in live.baseline.references()}
    skipped = 0
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=histogram_prefix(endpoint_name, hour)):
        for item in page.get("Contents", []):
            document = json.loads(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
            if not _add(totals, document, live.digest):
                skipped += 1
    return totals, skipped


def _add(totals: dict[str, np.ndarray], document: Any, digest: str) -> bool:
    if not isinstance(document, Mapping) or document.get("baseline_digest") != digest:
        return False
    counts = document.get("counts", {})
    shaped = {
        name: np.asarray(counts.get(name, np.zeros(total.size)), dtype=np.int64) for name, total in totals.items()
    }
    if any(values.shape != totals[name].shape or (values < 0).any() for name, values in shaped.items()):
        return False
    for name, values in shaped.items():
        totals[name] += values
    return True


def read_state(s3: Any, bucket: str, endpoint_name: str) -> DriftState | None:
    """The state the last check left; None before the first (`read_if_present`: no 403-for-absent ambiguity)."""
    body = read_if_present(s3, bucket, drift_state_key(endpoint_name))
    return None if body is None else DriftState.from_dict(json.loads(body))


def write_state(s3: Any, bucket: str, endpoint_name: str, state: DriftState) -> None:
    body = json.dumps(state.to_dict(), sort_keys=True, allow_nan=False).encode()
    s3.put_object(Bucket=bucket, Key=drift_state_key(endpoint_name), Body=body, ContentType="application/json")


def record_check(s3: Any, bucket: str, endpoint_name: str, at: datetime, check: DriftCheck) -> str:
    verdict = "DRIFT" if check.drifted else "STABLE"
    key = drift_record_key(endpoint_name, clock.stamp(at), verdict)
    return write_record(s3, bucket, key, check.to_record())


def latest_record(s3: Any, bucket: str, endpoint_name: str) -> dict[str, Any] | None:
    """The newest drift decision record (keys sort by time) not dated after the clock, or None."""
    newest = None
    now = clock.utc_now()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=drift_record_prefix(endpoint_name)):
        for item in page.get("Contents", []):
            if clock.time_refusal(clock.key_time(item["Key"]), None, now) is None:
                newest = max(newest or item["Key"], item["Key"])
    if newest is None:
        return None
    return json.loads(s3.get_object(Bucket=bucket, Key=newest)["Body"].read())


def publish_check(cloudwatch: Any, endpoint_name: str, at: datetime, check: DriftCheck) -> None:
    """DriftedColumns (the alarm's metric), and per column its PSI and p-value (`Column` dimension)."""
    endpoint = {"Name": "EndpointName", "Value": endpoint_name}
    data = [
        {"MetricName": DRIFTED_METRIC, "Dimensions": [endpoint], "Timestamp": at, "Value": float(len(check.drifted))}
    ]
    for column in check.columns:
        dimensions = [endpoint, {"Name": "Column", "Value": column.name}]
        for name, value in (("DriftPSI", column.psi), ("DriftPValue", column.p_value), ("DriftRows", column.rows)):
            data.append({"MetricName": name, "Dimensions": dimensions, "Timestamp": at, "Value": float(value)})
    for start in range(0, len(data), 1000):
        cloudwatch.put_metric_data(Namespace=DRIFT_NAMESPACE, MetricData=data[start : start + 1000])


def hour_feedback(cloudwatch: Any, endpoint_name: str, hour: datetime) -> tuple[int, int]:
    """FeedbackReceived and FeedbackCorrect the gateway counted for the endpoint in that hour, over its variants."""
    totals = {FEEDBACK_RECEIVED.name: 0.0, FEEDBACK_CORRECT.name: 0.0}
    for name in totals:
        listed = cloudwatch.get_paginator("list_metrics").paginate(
            Namespace=GATEWAY_NAMESPACE, MetricName=name, Dimensions=[{"Name": "EndpointName", "Value": endpoint_name}]
        )
        variants = {
            tuple(sorted((d["Name"], d["Value"]) for d in metric["Dimensions"]))
            for page in listed
            for metric in page.get("Metrics", [])
        }
        for dimensions in variants:
            points = cloudwatch.get_metric_statistics(
                Namespace=GATEWAY_NAMESPACE,
                MetricName=name,
                Dimensions=[{"Name": key, "Value": value} for key, value in dimensions],
                StartTime=hour,
                EndTime=hour + timedelta(hours=1),
                Period=3600,
                Statistics=["Sum"],
            )["Datapoints"]
            totals[name] += sum(point["Sum"] for point in points)
    return int(totals[FEEDBACK_RECEIVED.name]), int(totals[FEEDBACK_CORRECT.name])


def read_quality_state(s3: Any, bucket: str, endpoint_name: str, package_arn: str) -> QualityState:
    """The live package's cumulative feedback; a new package starts from nothing."""
    body = read_if_present(s3, bucket, quality_state_key(endpoint_name))
    if body is None:
        return QualityState()
    document = json.loads(body)
    if document.get("package_arn") != package_arn:
        return QualityState()
    return QualityState(int(document["received"]), int(document["correct"]), float(document["p_value"]))


def write_quality_state(s3: Any, bucket: str, endpoint_name: str, package_arn: str, state: QualityState) -> None:
    body = json.dumps({"package_arn": package_arn, **asdict(state)}, sort_keys=True).encode()
    s3.put_object(Bucket=bucket, Key=quality_state_key(endpoint_name), Body=body, ContentType="application/json")


def publish_quality(cloudwatch: Any, endpoint_name: str, at: datetime, check: QualityCheck) -> None:
    """AccuracyDegraded (the model-quality alarm's metric), the accuracy so far and its always-valid p-value."""
    endpoint = [{"Name": "EndpointName", "Value": endpoint_name}]
    values = {DEGRADED_METRIC: float(check.degraded), "AccuracyDegradationPValue": check.p_value}
    if check.accuracy is not None:
        values["LiveAccuracy"] = check.accuracy
    data = [
        {"MetricName": name, "Dimensions": endpoint, "Timestamp": at, "Value": value} for name, value in values.items()
    ]
    cloudwatch.put_metric_data(Namespace=DRIFT_NAMESPACE, MetricData=data)
