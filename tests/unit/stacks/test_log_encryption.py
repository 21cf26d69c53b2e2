"""Every log group is encrypted with its stack's KMS key, which CloudWatch Logs may use for exactly those log groups."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk import Stack

from infra.log_encryption import ENCRYPTION_CONTEXT_KEY, LOGS_KEY_ACTIONS
from stacks.stage import EnvironmentStage


def _render(value: Any) -> str:
    """A template string value with its Refs and Joins written out (`${AWS::Partition}`), to compare as text."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return "${" + value["Ref"] + "}"
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(_render(part) for part in parts)
    raise AssertionError(f"unexpected value {value}")


def _templates(stages: dict[str, EnvironmentStage]) -> list[tuple[EnvironmentStage, Stack, dict[str, Any]]]:
    return [
        (stage, stack, json.loads((Path(stage.outdir) / stack.template_file).read_text()))
        for stage in stages.values()
        for stack in stage.node.children
        if isinstance(stack, Stack)
    ]


def test_every_log_group_has_its_stacks_key_and_the_key_serves_exactly_those_log_groups(
    stages: dict[str, EnvironmentStage],
) -> None:
    checked = 0
    for _, stack, template in _templates(stages):
        resources = template["Resources"]
        by_key: dict[str, set[str]] = {}
        for logical_id, resource in resources.items():
            if resource["Type"] != "AWS::Logs::LogGroup":
                continue
            key = resource["Properties"].get("KmsKeyId")
            assert key is not None, f"{stack.stack_name}/{logical_id} has no KMS key"
            key_id = key["Fn::GetAtt"][0]  # a key of the same stack, not an import
            assert resources[key_id]["Type"] == "AWS::KMS::Key"
            arn = f"arn:${{AWS::Partition}}:logs:{stack.region}:${{AWS::AccountId}}:log-group:"
            by_key.setdefault(key_id, set()).add(arn + resource["Properties"]["LogGroupName"])
            checked += 1
        for key_id, arns in by_key.items():
            key = resources[key_id]["Properties"]
            assert key["EnableKeyRotation"] is True
            logs_statements = [
                statement
                for statement in key["KeyPolicy"]["Statement"]
                if "logs." in json.dumps(statement.get("Principal", {}))
            ]
            assert len(logs_statements) == 1, f"{stack.stack_name}/{key_id}"
            (statement,) = logs_statements
            assert _render(statement["Principal"]["Service"]) == "logs.${AWS::Region}.amazonaws.com"
            assert sorted(statement["Action"]) == sorted(LOGS_KEY_ACTIONS)
            assert list(statement["Condition"]) == ["ArnEquals"]
            granted = statement["Condition"]["ArnEquals"][ENCRYPTION_CONTEXT_KEY]
            assert {_render(value) for value in (granted if isinstance(granted, list) else [granted])} == arns
    # Per environment: both builds' and every Lambda's log groups, the gateway's, the VPC flow logs and WAF's.
    assert checked >= 14


def test_no_other_key_lets_cloudwatch_logs_use_it(stages: dict[str, EnvironmentStage]) -> None:
    for _, stack, template in _templates(stages):
        encrypting = {
            resource["Properties"]["KmsKeyId"]["Fn::GetAtt"][0]
            for resource in template["Resources"].values()
            if resource["Type"] == "AWS::Logs::LogGroup"
        }
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] == "AWS::KMS::Key" and logical_id not in encrypting:
                assert "logs." not in json.dumps(resource["Properties"]["KeyPolicy"]), (
                    f"{stack.stack_name}/{logical_id}"
                )
