"""Which verdict events the traffic shifter may act on: only those that match a decision record the analysis wrote.

Anyone with `events:PutEvents` can put a `safedeploy.canary` event on the default bus, and anyone with
`lambda:InvokeFunction` can hand the shifter any event at all, so the event itself proves nothing. What does is the
record it points to: `decisions/` of this environment's artifacts bucket admits writes from the canary analysis role
alone and keeps them (write-once; see `safedeploy.write_once`). A verdict is acted on only when

- its record is in this environment's bucket, under `decisions/<endpoint>/<deployment>/`, and says the same thing
  (endpoint, deployment, kind, decision) as the event;
- that record is dated between its deployment's start and the clock (`safedeploy.clock`), it is the newest record so
  dated of its deployment, and the deployment is the one running on the endpoint now;
- the shifter has not acted on it before: it claims a write-once receipt under `traffic-actions/` first, so a
  replayed event, however genuine, moves traffic once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from safedeploy import clock
from safedeploy.canary.fleets import find_comparison
from safedeploy.canary.outputs import record_keys
from safedeploy.guardrails.deploy_target import DeployTarget
from safedeploy.guardrails.endpoint_status import describe_endpoint
from safedeploy.s3_layout import decision_record_prefix, receipt_key
from safedeploy.s3_objects import read_if_present
from safedeploy.write_once import AlreadyWritten, put_new_object

RECORD_FIELDS = ("endpoint_name", "deployment_id", "kind", "decision")


class VerdictRefused(ValueError):
    """The event cannot be tied to a decision record of the running deployment; nothing is done."""


@dataclass(frozen=True)
class VerifiedVerdict:
    deployment_id: str
    kind: str
    decision: str
    record_uri: str
    receipt_uri: str
    checked_at: datetime  # the clock's time when the verdict was verified: the shifter's holds are measured by it


def shown(value: object, limit: int = 100) -> str:
    """`value` as a refusal line quotes it: repr (one line, whatever it holds), cut at `limit` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def text_field(detail: Mapping[str, Any], key: str) -> str:
    value = detail.get(key)
    if not isinstance(value, str) or not value:
        raise VerdictRefused(f"event detail.{key} is missing or not text: {shown(value)}")
    return value


def _split_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not bucket or not key or not uri.isprintable() or " " in uri:
        raise VerdictRefused(f"event detail.record_uri {shown(uri)} is not an s3:// URI of a decision record")
    return bucket, key


def _read_record(s3: Any, bucket: str, key: str) -> dict[str, Any]:
    """The record at `key`, absent asked by a listing of the key (the shifter may list `decisions/`; a GET of a
    missing key is a 403 to it, not a 404: `safedeploy.s3_objects`)."""
    try:
        body = read_if_present(s3, bucket, key)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        raise VerdictRefused(f"cannot read decision record s3://{bucket}/{key} ({code or error})") from None
    if body is None:
        raise VerdictRefused(f"no decision record at s3://{bucket}/{key}")
    try:
        record = json.loads(body)
    except ValueError:
        raise VerdictRefused(f"s3://{bucket}/{key} is not a JSON decision record") from None
    if not isinstance(record, dict):
        raise VerdictRefused(f"s3://{bucket}/{key} is not a JSON decision record")
    return record


def _record_time(record: Mapping[str, Any]) -> datetime | None:
    try:
        return datetime.fromisoformat(record["at"]) if isinstance(record.get("at"), str) else None
    except ValueError:
        return None


def verify_verdict(
    clients: Callable[[str], Any],
    target: DeployTarget,
    bucket: str,
    detail: Mapping[str, Any],
    now: Callable[[], datetime] = lambda: clock.utc_now(),
) -> VerifiedVerdict:
    """The verdict `detail` announces, once it is proven to be the analysis's latest; raises VerdictRefused."""
    endpoint_name = target.endpoint_name
    claimed = {name: text_field(detail, name) for name in RECORD_FIELDS}
    record_uri = text_field(detail, "record_uri")
    record_bucket, key = _split_uri(record_uri)
    prefix = decision_record_prefix(endpoint_name, claimed["deployment_id"])
    if record_bucket != bucket or not key.startswith(prefix):
        raise VerdictRefused(f"record {record_uri} is not a decision record of s3://{bucket}/{prefix}")
    s3 = clients("s3")
    record = _read_record(s3, bucket, key)
    differing = [name for name in RECORD_FIELDS if record.get(name) != claimed[name]]
    if differing:
        listed = ", ".join(f"{name} {shown(claimed[name])} (record: {shown(record.get(name))})" for name in differing)
        raise VerdictRefused(f"event does not match its decision record {record_uri}: {listed}")
    snapshot = describe_endpoint(clients("sagemaker"), endpoint_name)
    running = find_comparison(clients("sagemaker"), snapshot, target.guardrails.settings) if snapshot else None
    running_id = getattr(running, "deployment_id", None)
    if running is None or isinstance(running, str) or running_id != claimed["deployment_id"]:
        raise VerdictRefused(
            f"record {record_uri} judges deployment {shown(claimed['deployment_id'])}; {endpoint_name} runs "
            f"{running_id or 'no deployment'}"
        )
    checked_at = now()
    for at in (clock.key_time(key), _record_time(record)):
        reason = clock.time_refusal(at, running.started_at, checked_at)
        if reason:
            raise VerdictRefused(f"record {record_uri} is not believed: {reason}")
    newest = max(record_keys(s3, bucket, prefix, running.started_at, checked_at), default=None)
    if newest != key:
        raise VerdictRefused(
            f"record {record_uri} is not the newest decision of its deployment (s3://{bucket}/{newest})"
        )
    receipt_at = receipt_key(key)
    receipt = {
        "record_uri": record_uri,
        "decision": claimed["decision"],
        "at": checked_at.isoformat(timespec="seconds"),
    }
    try:
        receipt_uri = put_new_object(
            s3, bucket=bucket, key=receipt_at, body=json.dumps(receipt).encode(), ContentType="application/json"
        )
    except AlreadyWritten:
        raise VerdictRefused(f"verdict {record_uri} was acted on already (s3://{bucket}/{receipt_at})") from None
    return VerifiedVerdict(
        claimed["deployment_id"], claimed["kind"], claimed["decision"], record_uri, receipt_uri, checked_at
    )
