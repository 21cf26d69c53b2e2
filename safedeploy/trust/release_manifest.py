"""`release.json`: the one file the production repository holds, naming the package prod must deploy.

Build once, deploy many: prod never retrains, it deploys the package dev approved. The manifest names the package,
the sha256 of its model artifact, evaluation report and deploy tooling, the dev commit that trained and tested it,
and who approved and promoted it. It is a claim, not a proof: prod's Deploy checks every field against the approval
records and the bytes before any SageMaker call (`safedeploy.trust.deployable`). The reading side validates it as
strictly as the writing side, so a hand-edited or truncated file fails loudly.

Along a longer chain (dev -> staging -> prod) the origin's claims travel unchanged, since the last environment checks
them against the origin's records; each environment in the middle that forwards the release appends a hop
(`forwarded_by`): its repository, who approved its release, who approved the forwarding, and its execution.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from safedeploy.errors import InputError

RELEASE_FILE = "release.json"
SCHEMA_VERSION = 2
DIGEST_FIELDS = ("model_sha256", "evaluation_sha256", "tooling_sha256")
_TEXT_FIELDS = (
    "model_package_arn",
    "source_commit",
    "approved_by",
    "promoted_by",
    "pipeline_execution_id",
    "promoted_at",
    *DIGEST_FIELDS,
)


@dataclass(frozen=True)
class ForwardHop:
    """One forwarding by an environment in the middle of the chain, after its own release and forwarding approvals."""

    repository: str
    release_approved_by: str
    forwarded_by: str
    pipeline_execution_id: str
    forwarded_at: str

    def __post_init__(self) -> None:
        empty = [name for name, value in asdict(self).items() if not isinstance(value, str) or not value]
        if empty:
            raise InputError(f"release manifest forwarded_by fields must be non-empty strings: {', '.join(empty)}")

    @classmethod
    def from_dict(cls, data: object) -> ForwardHop:
        fields = set(cls.__dataclass_fields__)
        if not isinstance(data, dict) or set(data) != fields:
            raise InputError(f"{RELEASE_FILE} forwarded_by entries must be objects with exactly {sorted(fields)}")
        return cls(**data)


@dataclass(frozen=True)
class ReleaseManifest:
    model_package_arn: str
    source_commit: str
    metrics: Mapping[str, float]
    approved_by: str
    promoted_by: str
    pipeline_execution_id: str
    promoted_at: str
    model_sha256: str
    evaluation_sha256: str
    tooling_sha256: str
    schema_version: int = SCHEMA_VERSION
    forwarded_by: tuple[ForwardHop, ...] = ()

    def __post_init__(self) -> None:
        empty = [name for name in _TEXT_FIELDS if not isinstance(getattr(self, name), str) or not getattr(self, name)]
        if empty:
            raise InputError(f"release manifest fields must be non-empty strings: {', '.join(empty)}")
        if self.schema_version != SCHEMA_VERSION:
            raise InputError(f"release manifest schema_version {self.schema_version} is not {SCHEMA_VERSION}")
        if not self.model_package_arn.startswith("arn:") or ":model-package/" not in self.model_package_arn:
            raise InputError(f"release manifest model_package_arn {self.model_package_arn!r} is not a package ARN")
        malformed = [name for name in DIGEST_FIELDS if not re.fullmatch(r"[0-9a-f]{64}", getattr(self, name))]
        if malformed:
            raise InputError(f"release manifest fields must be hex sha256 digests: {', '.join(malformed)}")
        for name, value in self.metrics.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise InputError(f"release manifest metric {name} must be a finite number, got {value!r}")
        try:
            datetime.fromisoformat(self.promoted_at)
        except ValueError:
            raise InputError(f"release manifest promoted_at {self.promoted_at!r} is not an ISO 8601 time") from None

    def to_json(self) -> str:
        document = {
            **asdict(self),
            "metrics": dict(self.metrics),
            "forwarded_by": [asdict(h) for h in self.forwarded_by],
        }
        if not self.forwarded_by:
            del document["forwarded_by"]  # a first promotion's manifest is what it always was
        return json.dumps(document, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> ReleaseManifest:
        try:
            data: Any = json.loads(text)
        except json.JSONDecodeError as error:
            raise InputError(f"{RELEASE_FILE} is not valid JSON: {error.msg} at character {error.pos}") from None
        if not isinstance(data, dict):
            raise InputError(f"{RELEASE_FILE} must hold a JSON object, got {type(data).__name__}")
        expected = {*_TEXT_FIELDS, "metrics", "schema_version"}
        missing, unknown = sorted(expected - data.keys()), sorted(data.keys() - expected - {"forwarded_by"})
        if missing or unknown:
            raise InputError(f"{RELEASE_FILE} fields: missing {missing or 'none'}, unknown {unknown or 'none'}")
        if not isinstance(data["metrics"], dict):
            raise InputError(f"{RELEASE_FILE} metrics must be a JSON object")
        hops = data.pop("forwarded_by", [])
        if not isinstance(hops, list):
            raise InputError(f"{RELEASE_FILE} forwarded_by must be a JSON list")
        return cls(**data, forwarded_by=tuple(ForwardHop.from_dict(hop) for hop in hops))
