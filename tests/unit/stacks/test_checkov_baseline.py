"""checkov over the synthesized templates reports nothing but the baseline, and every baseline line says why."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import CfnResource, Stack

from infra.checkov_baseline import BASELINE, parse_baseline
from tests.support.configuration import three_environments
from tests.unit.stacks.conftest import ROOT, synth_app

CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"


def test_every_baseline_line_names_a_check_a_resource_and_a_specific_reason() -> None:
    lines = [line for line in BASELINE.read_text().splitlines() if line.strip() and not line.startswith("#")]
    findings = parse_baseline(BASELINE.read_text())
    assert len(findings) == len(lines)
    assert all(len(finding.reason.split()) >= 8 for finding in findings)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("CKV_AWS_117 drift/Drift/DriftCheck/Function/Resource", "expected '<check id> <construct path> <reason>'"),
        ("CKV_AWS_117 drift/Drift/DriftCheck/Function/Resource deliberate", "needs a specific reason"),
        ("117 drift/Drift/DriftCheck/Function/Resource " + "a reason long enough to count " * 2, "expected"),
        ("CKV_AWS_2 serving/Http " + "a reason long enough to count " * 2 + "\nCKV_AWS_2 serving/Http " + "x" * 60,
         "listed twice"),
    ],
)  # fmt: skip
def test_a_baseline_line_without_check_path_or_reason_is_refused_with_its_line(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as error:
        parse_baseline(text, "baseline")
    assert str(error.value).startswith("baseline:")


def _checkov(files: list[str]) -> dict[str, Any]:
    assert CHECKOV.exists(), f"{CHECKOV.relative_to(ROOT)} is missing: `make setup` installs checkov there"
    result = subprocess.run(
        [str(CHECKOV), "--framework", "cloudformation", "--skip-download", "--compact", "--output", "json",
         *(argument for file in files for argument in ("--file", file))],
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stderr[-2000:]
    report = json.loads(result.stdout)
    return report[0] if isinstance(report, list) else report


@pytest.mark.slow
def test_checkov_reports_nothing_outside_the_baseline(cdk_context: dict[str, Any], tmp_path: Path) -> None:
    """A chain with a middle environment (dev -> staging -> prod) and a project name of its own, so every kind of
    stack is scanned; each baseline line must still name a finding somewhere (no stale line hides a new one)."""
    context = three_environments(copy.deepcopy(cdk_context))
    context["project"] = "scan"
    for environment in context["environments"].values():
        parameter = environment["serving"].get("certificate_parameter")
        if parameter:
            environment["serving"]["certificate_parameter"] = parameter.replace("/my-mlops/", "/scan/")
    stages = synth_app(context, tmp_path)
    files: dict[str, dict[str, str]] = {}  # template file -> logical id -> construct path below the stage
    for stage in stages.values():
        for stack in (child for child in stage.node.children if isinstance(child, Stack)):
            files[str(Path(stage.outdir) / stack.template_file)] = {
                stack.resolve(resource.logical_id): resource.node.path.removeprefix(f"{stage.node.path}/")
                for resource in stack.node.find_all()
                if isinstance(resource, CfnResource)
            }
    results = _checkov(list(files))["results"]
    failed = [f"{check['check_id']} {check['resource']} ({check['file_path']})" for check in results["failed_checks"]]
    assert failed == []
    skipped = {
        (check["check_id"], files[check["file_abs_path"]][check["resource"].split(".", 1)[1]])
        for check in results["skipped_checks"]
    }
    assert {(finding.check_id, finding.path) for finding in parse_baseline(BASELINE.read_text())} == skipped
