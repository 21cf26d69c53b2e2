"""The S3 key layout of an environment's buckets, defined once for the runtime that writes and reads it, the stacks
that grant and expire it, doctor that looks for it, and the gateway image, which carries this module and a few others
of `safedeploy` (so it imports nothing but the standard library; `tests/unit/stacks/test_gateway_image.py`).

Artifacts bucket (the write-once prefixes: `safedeploy.write_once`):
- `models/<commit>/<build>/<file>`, `evaluation/...`, `tooling/...`: what a Train run uploads (`pipelines/...`: what
  a SageMaker Pipeline's jobs write, read by Train and never served); a promoted-to
  environment's verified copies under `<prefix>/promoted/<group>/<version>/<file>`;
- `approvals/<group>/<version>/<decision>.json`; `rolled-back/<account>/<group>/<version>/<time><suffix>`
  (`safedeploy.guardrails.rolled_back`);
- `decisions/<endpoint>/<deployment>/<time>-<DECISION>.json` (canary analysis), its receipt under `traffic-actions/`
  (traffic shifter), `rollbacks/<endpoint>/<time>.json` (an operator's rollback);
- `drift-decisions/<endpoint>/<time>-<DRIFT|STABLE>.json` (the drift check).
Drift bucket: `drift/<endpoint>/histograms/<YYYYMMDDTHH>/<writer>-<digest>.json` (the gateway),
`drift/<endpoint>/state.json` and `quality.json` (the drift check's state, replaced every hour).
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlparse

MODELS, EVALUATION, TOOLING, DECISIONS, DRIFT_DECISIONS, APPROVALS, ROLLBACKS, ROLLED_BACK, TRAFFIC_ACTIONS = (
    "models",
    "evaluation",
    "tooling",
    "decisions",
    "drift-decisions",
    "approvals",
    "rollbacks",
    "rolled-back",
    "traffic-actions",
)
DRIFT = "drift"
PROMOTED = "promoted"
# What a model's SageMaker Pipeline writes (code, job outputs), the only prefix its execution role may write; the
# Train build copies what it registers out of it into the write-once prefixes.
PIPELINES = "pipelines"
# Train uploads each drift baseline next to its model artifact; the object says which document it is.
BASELINE_NAME, BASELINE_SCHEMA = "drift-baseline.json", "safedeploy.drift-baseline/1"
BASELINE_OBJECTS = f"{MODELS}/*/{BASELINE_NAME}"
HOUR_FORMAT = "%Y%m%dT%H"
_PACKAGE_ARN = re.compile(r"arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/([A-Za-z0-9-]{1,63})/(\d+)")


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``("bucket", "key")``; anything else is a clear error."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc or not parsed.path.strip("/"):
        raise ValueError(f"{uri!r} is not an s3://bucket/key URI")
    return parsed.netloc, parsed.path.lstrip("/")


def package_group_and_version(package_arn: str) -> tuple[str, int]:
    """The group and version a model package version ARN names: the keys of its records and copies."""
    match = _PACKAGE_ARN.fullmatch(package_arn)
    if match is None:
        raise ValueError(f"{package_arn!r} is not a versioned model package ARN")
    return match.group(1), int(match.group(2))


def run_key(prefix: str, run: str, file_name: str) -> str:
    """`<prefix>/<commit>/<build>/<file>`: one folder per Train run, so reruns of one commit never overwrite."""
    return f"{prefix}/{run}/{file_name}"


def promoted_key(prefix: str, package_arn: str, source_uri: str) -> str:
    """`<prefix>/promoted/<group>/<version>/<file>`: one place per package version, under the served prefixes."""
    group, version = package_group_and_version(package_arn)
    return f"{prefix}/{PROMOTED}/{group}/{version}/{split_s3_uri(source_uri)[1].rsplit('/', 1)[-1]}"


def served_baseline_location(source_uri: str, package_arn: str, own_bucket: str | None) -> tuple[str, str]:
    """Where this environment reads a package's drift baseline: where it was written when this environment trained
    the package (or no bucket is given), else its promoted copy in `own_bucket`."""
    bucket, key = split_s3_uri(source_uri)
    if own_bucket is None or bucket == own_bucket:
        return bucket, key
    return own_bucket, promoted_key(MODELS, package_arn, source_uri)


def approval_record_key(package_arn: str, decision: str) -> str:
    group, version = package_group_and_version(package_arn)
    return f"{APPROVALS}/{group}/{version}/{decision}.json"


def decisions_prefix(endpoint_name: str) -> str:
    """Every canary decision record of the endpoint, of any deployment, and its operators' rollback records' folder."""
    return f"{DECISIONS}/{endpoint_name}/"


def decision_record_prefix(endpoint_name: str, deployment_id: str) -> str:
    return f"{decisions_prefix(endpoint_name)}{deployment_id}/"


def decision_record_key(endpoint_name: str, deployment_id: str, stamp: str, decision: str) -> str:
    """Keys sort by time, so a deployment's last decision is found by listing alone."""
    return f"{decision_record_prefix(endpoint_name, deployment_id)}{stamp}-{decision}.json"


def receipt_key(decision_key: str) -> str:
    """The traffic shifter's receipt of the decision record it acted on: the same path under `traffic-actions/`."""
    return f"{TRAFFIC_ACTIONS}/{decision_key.removeprefix(DECISIONS + '/')}"


def rollbacks_prefix(endpoint_name: str) -> str:
    """The operators' rollback records of the endpoint (`safedeploy rollback`)."""
    return f"{ROLLBACKS}/{endpoint_name}/"


def rollback_record_key(endpoint_name: str, stamp: str) -> str:
    return f"{rollbacks_prefix(endpoint_name)}{stamp}.json"


def histograms_root(endpoint_name: str) -> str:
    """Every histogram of the endpoint is under this prefix (the writer's grant, the readers' and the expiry's)."""
    return f"{DRIFT}/{endpoint_name}/histograms/"


def histogram_prefix(endpoint_name: str, hour: datetime | str) -> str:
    """The histograms of one hour (its start, or its name in HOUR_FORMAT)."""
    name = hour if isinstance(hour, str) else hour.strftime(HOUR_FORMAT)
    return f"{histograms_root(endpoint_name)}{name}/"


def histogram_key(endpoint_name: str, hour: datetime | str, writer: str, digest: str) -> str:
    """One writer's counts of one hour against one baseline (`sha256:<hex>`): a new baseline is a new object."""
    return f"{histogram_prefix(endpoint_name, hour)}{writer}-{digest.removeprefix('sha256:')[:12]}.json"


def drift_state_key(endpoint_name: str) -> str:
    return f"{DRIFT}/{endpoint_name}/state.json"


def quality_state_key(endpoint_name: str) -> str:
    return f"{DRIFT}/{endpoint_name}/quality.json"


def drift_record_prefix(endpoint_name: str) -> str:
    return f"{DRIFT_DECISIONS}/{endpoint_name}/"


def drift_record_key(endpoint_name: str, stamp: str, verdict: str) -> str:
    return f"{drift_record_prefix(endpoint_name)}{stamp}-{verdict}.json"
