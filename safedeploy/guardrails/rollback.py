"""Roll an endpoint back to its previous release config (or a named one) in one call, and record that it happened.

The way back is a plain UpdateEndpoint: the auto-rollback alarms that may be firing must not block it. Where it
leads: the baseline of a running experiment, otherwise the release config recorded on the endpoint as previous.
A second rollback therefore undoes the first. The record is a set of endpoint tags and a write-once JSON document
under `rollbacks/<endpoint>/` in the artifacts bucket (decisions/ belongs to the canary analysis alone); the package
rolled away from is marked there first (`rolled_back`), so it is not deployed again without an explicit override.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from safedeploy.errors import InputError
from safedeploy.guardrails import resource_tags
from safedeploy.guardrails.endpoint_status import EndpointSnapshot, EndpointWaiter, describe_endpoint, expect_live
from safedeploy.guardrails.errors import EndpointBusy
from safedeploy.guardrails.experiment import Experiment
from safedeploy.guardrails.release_resources import config_tags
from safedeploy.guardrails.rolled_back import RolledBackMarks
from safedeploy.s3_layout import rollback_record_key
from safedeploy.write_once import put_new_object


@dataclass(frozen=True)
class RollbackResult:
    endpoint_name: str
    from_config: str
    to_config: str
    at: str
    reason: str
    record_uri: str | None = None
    rolled_back_package: str | None = None

    def summary(self) -> str:
        recorded = f"; recorded at {self.record_uri}" if self.record_uri else ""
        marked = (
            f"; {self.rolled_back_package} is marked rolled back (deploying it again needs --allow-rolled-back)"
            if self.rolled_back_package
            else ""
        )
        return f"rolled back {self.endpoint_name}: {self.from_config} -> {self.to_config}{recorded}{marked}"


def plan_rollback(sm: Any, endpoint_name: str, to: str | None = None) -> tuple[str, str]:
    """(current config, config a rollback would serve), for showing before asking a person to confirm."""
    snapshot = describe_endpoint(sm, endpoint_name)
    if snapshot is None:
        raise InputError(f"endpoint {endpoint_name} does not exist: nothing to roll back")
    return snapshot.config_name, to or rollback_target(sm, snapshot)


def rollback_target(sm: Any, snapshot: EndpointSnapshot) -> str:
    experiment = Experiment.running_on(sm, snapshot)
    if experiment is not None:
        return experiment.baseline_config
    previous = resource_tags.read_tags(sm, snapshot.arn).get(resource_tags.PREVIOUS_CONFIG)
    if not previous:
        raise InputError(
            f"endpoint {snapshot.name} has no previous config recorded (one release so far); name one with --to"
        )
    return previous


def _require_config(sm: Any, config_name: str) -> dict[str, str]:
    try:
        return config_tags(sm, config_name)
    except ClientError as error:
        if "Could not find" in error.response.get("Error", {}).get("Message", ""):
            raise InputError(f"endpoint config {config_name!r} does not exist") from None
        raise


def rollback_endpoint(
    sm: Any,
    endpoint_name: str,
    *,
    marks: RolledBackMarks,
    to: str | None = None,
    reason: str = "requested",
    waiter: EndpointWaiter | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> RollbackResult:
    """Without a waiter the call returns once SageMaker accepted the update (a Lambda cannot wait for it).
    `marks`: the environment's rolled-back marks; the rollback record goes to the same bucket."""
    snapshot = describe_endpoint(sm, endpoint_name)
    if snapshot is None:
        raise InputError(f"endpoint {endpoint_name} does not exist: nothing to roll back")
    if snapshot.changing:
        if waiter is None:
            raise EndpointBusy(f"{snapshot.progress_line()}: roll back once it has finished")
        waiter.progress(f"endpoint {endpoint_name} is {snapshot.status}: waiting before rolling back")
        settled = waiter.until_settled(endpoint_name)
        if settled is None:
            raise InputError(f"endpoint {endpoint_name} was deleted while waiting: nothing to roll back")
        snapshot = settled
    target = to or rollback_target(sm, snapshot)
    if target == snapshot.config_name:
        raise InputError(f"endpoint {endpoint_name} already serves {target}")
    target_tags = _require_config(sm, target)
    at = now().isoformat(timespec="seconds")
    rolled_back = config_tags(sm, snapshot.config_name).get(resource_tags.PACKAGE_ARN)
    if rolled_back == target_tags.get(resource_tags.PACKAGE_ARN):
        rolled_back = None  # back to another config of the same package: nothing to mark
    if rolled_back:  # before the way back: a package is never rolled back unmarked
        marks.mark(rolled_back, at=at, endpoint_name=endpoint_name, reason=reason)
    # A rollback is a plain update, not a canary: first empty the guarded config so the analysis leaves it alone.
    resource_tags.write_tags(sm, snapshot.arn, {resource_tags.GUARDED_CONFIG: ""})
    sm.update_endpoint(EndpointName=endpoint_name, EndpointConfigName=target)
    _tag_endpoint(sm, snapshot, target_tags, at)
    result = RollbackResult(endpoint_name, snapshot.config_name, target, at, reason, rolled_back_package=rolled_back)
    result = _write_record(marks.s3, marks.bucket, result)
    if waiter is not None:
        expect_live(waiter.until_settled(endpoint_name), endpoint_name, target, previous=snapshot.config_name)
    return result


def _tag_endpoint(sm: Any, snapshot: EndpointSnapshot, target_tags: dict[str, str], at: str) -> None:
    tags = {resource_tags.ROLLED_BACK_FROM: snapshot.config_name, resource_tags.ROLLED_BACK_AT: at}
    if resource_tags.EXPERIMENT not in config_tags(sm, snapshot.config_name):
        tags[resource_tags.PREVIOUS_CONFIG] = snapshot.config_name
    if resource_tags.PACKAGE_ARN in target_tags:
        tags[resource_tags.PACKAGE_ARN] = target_tags[resource_tags.PACKAGE_ARN]
    resource_tags.write_tags(sm, snapshot.arn, tags)


def _write_record(s3: Any, bucket: str, result: RollbackResult) -> RollbackResult:
    stamp = result.at.replace(":", "").replace("-", "")
    key = rollback_record_key(result.endpoint_name, stamp)
    body = json.dumps(asdict(result), indent=2).encode()
    uri = put_new_object(s3, bucket=bucket, key=key, body=body, ContentType="application/json")
    return RollbackResult(**{**asdict(result), "record_uri": uri})
