"""Where a verdict goes: the CanaryVerdict metric (SageMaker's rollback alarm), the statistics beside it (the
dashboard plots statistic against boundary), a decision record in S3, and an event for the traffic shifter.

Records are keyed `decisions/<endpoint>/<deployment>/<time>-<DECISION>.json`, so the last decision of a deployment
is found by listing alone. A ROLLBACK is final for its deployment: a sequential boundary, once crossed, stays
crossed, and the alarm must keep firing until SageMaker has rolled back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from safedeploy.clock import key_time, stamp, time_refusal
from safedeploy.decision import Decision
from safedeploy.s3_layout import decision_record_key, decision_record_prefix
from safedeploy.write_once import put_new_object

CANARY_NAMESPACE = "SafeDeploy/Canary"
VERDICT_METRIC = "CanaryVerdict"
VERDICT_EVENT_SOURCE = "safedeploy.canary"
VERDICT_DETAIL_TYPE = "Canary Verdict"


def record_key(endpoint_name: str, deployment_id: str, at: datetime, decision: Decision) -> str:
    return decision_record_key(endpoint_name, deployment_id, stamp(at), decision)


def record_keys(s3: Any, bucket: str, prefix: str, started_at: datetime, now: datetime) -> list[str]:
    """The keys of one deployment's records that are dated between its start and the clock, oldest first.

    A key dated otherwise (written by a caller that chose its own time before the analysis took it from the clock)
    is refused here, so it can neither stay "the newest" nor count as an earlier decision.
    """
    keys = [
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for item in page.get("Contents", [])
        if "/" not in item["Key"].removeprefix(prefix)
    ]
    return sorted(key for key in keys if time_refusal(key_time(key), started_at, now) is None)


def decided_before(
    s3: Any,
    bucket: str,
    endpoint_name: str,
    deployment_id: str,
    decision: Decision,
    started_at: datetime,
    now: datetime,
) -> str | None:
    """The key of the first earlier record of this deployment with `decision`, if any."""
    keys = record_keys(s3, bucket, decision_record_prefix(endpoint_name, deployment_id), started_at, now)
    return next((key for key in keys if key.endswith(f"-{decision}.json")), None)


def write_record(s3: Any, bucket: str, key: str, record: Mapping[str, Any]) -> str:
    """Write-once; the bucket's default encryption (the environment's KMS key) applies; the body is strict JSON.

    A replayed minute that reaches the same verdict finds its own record and succeeds; a different one is refused.
    """
    body = json.dumps(record, indent=2, sort_keys=True, allow_nan=False).encode()
    return put_new_object(s3, bucket=bucket, key=key, body=body, same_body_ok=True, ContentType="application/json")


def publish_metrics(
    cloudwatch: Any, endpoint_name: str, at: datetime, verdict: int, statistics: Mapping[str, Mapping[str, Any]]
) -> None:
    """CanaryVerdict (1 = roll back) and, per guarded metric, the harm statistic and its current boundary."""
    endpoint = {"Name": "EndpointName", "Value": endpoint_name}
    data = [{"MetricName": VERDICT_METRIC, "Dimensions": [endpoint], "Timestamp": at, "Value": float(verdict)}]
    for metric, details in statistics.items():
        for name, field in (("CanaryStatistic", "statistic"), ("CanaryBoundary", "boundary")):
            value = details.get(field)
            if isinstance(value, int | float):
                dims = [endpoint, {"Name": "Metric", "Value": metric}]
                data.append({"MetricName": name, "Dimensions": dims, "Timestamp": at, "Value": float(value)})
    cloudwatch.put_metric_data(Namespace=CANARY_NAMESPACE, MetricData=data)


def announce(events: Any, detail: Mapping[str, Any]) -> None:
    entry = {"Source": VERDICT_EVENT_SOURCE, "DetailType": VERDICT_DETAIL_TYPE, "Detail": json.dumps(detail)}
    response = events.put_events(Entries=[entry])
    if response.get("FailedEntryCount"):
        raise RuntimeError(f"EventBridge refused the verdict event: {response['Entries']}")
