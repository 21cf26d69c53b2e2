"""The checkov findings this platform accepts, from `checkov-baseline.txt`, written into the templates as checkov's
own per-resource skips (resource Metadata `checkov.skip`, each with its reason as the comment).

A finding is named by check id and construct path below the stage, never by template file or logical id, so the
baseline holds for any project name and environment in cdk.json, and a new resource is a new finding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import jsii
from aws_cdk import Aspects, CfnResource, IAspect, Stage
from constructs import IConstruct

BASELINE = Path(__file__).resolve().parents[1] / "checkov-baseline.txt"
CHECK_ID = re.compile(r"CKV2?_[A-Z0-9]+_\d+")
MIN_REASON_LENGTH = 40


@dataclass(frozen=True)
class AcceptedFinding:
    check_id: str
    path: str  # `<stack id>/<construct path>` below the stage
    reason: str


def parse_baseline(text: str, source: str = BASELINE.name) -> list[AcceptedFinding]:
    """One finding a line (`<check id> <path> <reason>`); `#` lines and blank lines are comments."""
    findings: list[AcceptedFinding] = []
    seen: set[tuple[str, str]] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split(None, 2)
        if len(parts) < 3 or not CHECK_ID.fullmatch(parts[0]):
            raise ValueError(f"{source}:{number}: expected '<check id> <construct path> <reason>', got {line!r}")
        check_id, path, reason = parts[0], parts[1], parts[2].strip()
        if len(reason) < MIN_REASON_LENGTH:
            raise ValueError(f"{source}:{number}: {check_id} on {path} needs a specific reason")
        if (check_id, path) in seen:
            raise ValueError(f"{source}:{number}: {check_id} on {path} is listed twice")
        seen.add((check_id, path))
        findings.append(AcceptedFinding(check_id, path, reason))
    return findings


@jsii.implements(IAspect)
class CheckovSkips:
    """Adds the accepted findings of each resource of a stage to its template Metadata, where checkov reads them."""

    def __init__(self, stage: Stage, findings: list[AcceptedFinding]) -> None:
        self._stage_path = stage.node.path
        self._by_path: dict[str, list[AcceptedFinding]] = {}
        for finding in findings:
            self._by_path.setdefault(finding.path, []).append(finding)

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, CfnResource):
            return
        accepted = self._by_path.get(node.node.path.removeprefix(f"{self._stage_path}/"), [])
        if accepted:
            node.add_metadata("checkov", {"skip": [{"id": f.check_id, "comment": f.reason} for f in accepted]})


def apply_checkov_baseline(stage: Stage) -> None:
    Aspects.of(stage).add(CheckovSkips(stage, parse_baseline(BASELINE.read_text())))
