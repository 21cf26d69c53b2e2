"""The whole app: every environment synthesizes behind cdk-nag, and every template passes cfn-lint."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk import aws_s3 as s3
from aws_cdk.region_info import RegionInfo

from stacks.stage import EnvironmentStage
from tests.unit.stacks.conftest import gate_violations


def all_templates(stages: dict[str, EnvironmentStage]) -> dict[str, dict[str, Any]]:
    templates = {}
    for stage in stages.values():
        for stack in stage.node.children:
            if isinstance(stack, Stack):
                path = Path(stage.outdir) / stack.template_file
                templates[stack.stack_name] = json.loads(path.read_text())
    return templates


def test_both_environments_synthesize_into_their_own_stage(stages: dict[str, EnvironmentStage]) -> None:
    assert {stage.stage_name for stage in stages.values()} == {"my-mlops-dev", "my-mlops-prod"}
    names = set(all_templates(stages))
    assert {"my-mlops-dev-storage", "my-mlops-prod-storage"} <= names


def test_no_policy_grants_a_wildcard_action(stages: dict[str, EnvironmentStage]) -> None:
    for stack_name, template in all_templates(stages).items():
        for logical_id, resource in template["Resources"].items():
            documents = [resource["Properties"].get("PolicyDocument")] if resource["Type"] == "AWS::IAM::Policy" else []
            documents += [policy["PolicyDocument"] for policy in resource.get("Properties", {}).get("Policies", [])]
            for document in filter(None, documents):
                for statement in document["Statement"]:
                    actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                    assert not [a for a in actions if a == "*" or a.endswith(":*")], f"{stack_name}/{logical_id}"


def test_templates_carry_no_account_literal(stages: dict[str, EnvironmentStage]) -> None:
    """Except AWS's own: older regions' ELB log-delivery accounts, which ELB documents (and CDK grants)."""
    aws_owned = {region.elbv2_account for region in RegionInfo.regions if region.elbv2_account}
    for stack_name, template in all_templates(stages).items():
        text = json.dumps(template["Resources"])
        # An account id stands alone (":123456789012:"); twelve digits inside an asset's hex hash are not one.
        accounts = set(re.findall(r"(?<![\w.])\d{12}(?![\w.])", text))
        assert not accounts - aws_owned, stack_name


def test_cfn_lint_reports_no_errors(stages: dict[str, EnvironmentStage]) -> None:
    files = [
        str(Path(stage.outdir) / stack.template_file)
        for stage in stages.values()
        for stack in stage.node.children
        if isinstance(stack, Stack)
    ]
    result = subprocess.run(
        [sys.executable, "-m", "cfnlint", "--format", "parseable", *files], capture_output=True, text=True, check=False
    )
    assert result.returncode & 2 == 0, result.stdout  # bit 2 = errors; warnings (4) are shown by `make synth`


def test_an_unacknowledged_finding_fails_synth(
    cdk_context: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gate is real: a bucket without TLS enforcement or access logs stops synth with the rule named."""

    def with_bad_bucket(stage: EnvironmentStage) -> None:
        s3.Bucket(stage.storage, "Unprotected")

    rules = gate_violations(cdk_context, tmp_path, monkeypatch, with_bad_bucket)
    assert {"AwsSolutions-S1", "AwsSolutions-S10"} <= set(rules)
