"""The acceptance suite's findings, kept where `safedeploy doctor` can show them: one SSM parameter per project.

The behaviours named here are the ones AWS's documentation does not settle (docs/aws-behaviours.md, "Behaviour
register"). Each has a design that is safe whichever way AWS behaves; the acceptance suite (`make acceptance`)
observes which way it behaves in a real account and records it here, and doctor reads the record read-only. The
suite writes; nothing else does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError

from safedeploy.errors import InputError

# A standard-tier SSM parameter holds at most 4 KB; each finding's text is cut so the record always fits.
PARAMETER_LIMIT = 4096
OBSERVED_LIMIT = 240


class Behaviour(StrEnum):
    """An AWS behaviour the code relies on that the documentation does not settle (ids used in the docs' register)."""

    FLEET_DIMENSION = "fleet-dimension"
    MODEL_LATENCY_PERCENTILES = "model-latency-percentiles"
    FINAL_BAKE_LENGTH = "final-bake-length"
    ROLLED_BACK_MARK = "rolled-back-mark"
    MISSING_KEY_STATUS = "missing-key-status"
    OBJECT_LOCK_WRITES = "object-lock-writes"
    RETAIN_VARIANT_PROPERTIES = "retain-variant-properties"
    WEIGHTS_LAST_MODIFIED = "weights-last-modified"
    VERDICT_MISSING_DATA = "verdict-missing-data"


class Outcome(StrEnum):
    CONFIRMED = "confirmed"  # AWS behaves as the primary design assumes
    FALLBACK = "fallback"  # AWS behaves the other way; the fallback design is what holds
    UNSETTLED = "unsettled"  # the run could not observe it (say why)
    FAILED = "failed"  # neither the design nor its fallback holds: a defect to fix before relying on it


@dataclass(frozen=True)
class Finding:
    behaviour: Behaviour
    outcome: Outcome
    observed: str

    def line(self) -> str:
        return f"{self.outcome.value.upper():<9} {self.behaviour.value}: {self.observed}"


@dataclass(frozen=True)
class Results:
    env: str
    finished_at: str  # ISO 8601, UTC
    region: str
    findings: tuple[Finding, ...]

    def finding(self, behaviour: Behaviour) -> Finding | None:
        return next((finding for finding in self.findings if finding.behaviour is behaviour), None)

    def to_json(self) -> str:
        """Compact JSON within `PARAMETER_LIMIT`; each observation is cut to `OBSERVED_LIMIT` characters."""
        findings = [
            {"id": f.behaviour.value, "outcome": f.outcome.value, "observed": f.observed[:OBSERVED_LIMIT]}
            for f in self.findings
        ]
        record = {"env": self.env, "finished_at": self.finished_at, "region": self.region, "findings": findings}
        text = json.dumps(record, separators=(",", ":"))
        if len(text.encode()) > PARAMETER_LIMIT:
            raise InputError(f"acceptance results take {len(text.encode())} bytes, over {PARAMETER_LIMIT}")
        return text

    @classmethod
    def from_json(cls, text: str) -> Results:
        """Raises ValueError for a record this version cannot read; findings of ids it does not know are skipped."""
        try:
            data = json.loads(text)
            return cls(
                env=str(data["env"]),
                finished_at=str(data["finished_at"]),
                region=str(data["region"]),
                findings=tuple(_finding(item) for item in data["findings"] if item.get("id") in _IDS),
            )
        except (KeyError, TypeError, AttributeError) as error:
            raise InputError(f"malformed acceptance results record: {error!r}") from None


_IDS = frozenset(behaviour.value for behaviour in Behaviour)


def _finding(item: Mapping[str, Any]) -> Finding:
    return Finding(Behaviour(item["id"]), Outcome(item["outcome"]), str(item.get("observed", "")))


def results_parameter(project: str) -> str:
    """One record per project, account and region: the last run in any scratch environment is what doctor shows."""
    return f"/{project}/acceptance/results"


def write_results(ssm: Any, project: str, results: Results) -> str:
    name = results_parameter(project)
    ssm.put_parameter(Name=name, Value=results.to_json(), Type="String", Tier="Standard", Overwrite=True)
    return name


def read_results(ssm: Any, project: str) -> Results | None:
    """The last recorded run, or None when the suite never ran here."""
    try:
        value = ssm.get_parameter(Name=results_parameter(project))["Parameter"]["Value"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ParameterNotFound":
            return None
        raise
    return Results.from_json(value)


def findings_report(findings: Sequence[Finding]) -> str:
    return "\n".join(finding.line() for finding in findings)
