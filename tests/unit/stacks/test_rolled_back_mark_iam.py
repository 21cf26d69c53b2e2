"""The rolled-back mark's IAM: records under rolled-back/, never tags on a model package version."""

from __future__ import annotations

import json
from typing import Any

from stacks.stage import EnvironmentStage
from tests.unit.stacks.test_app_synth import all_templates

TAG_ACTIONS = {"sagemaker:AddTags", "sagemaker:ListTags", "sagemaker:DeleteTags"}


def statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (logical_id, statement)
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::IAM::Policy"
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]


def listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_no_role_that_marks_or_reads_marks_holds_tag_actions_on_packages(stages: dict[str, EnvironmentStage]) -> None:
    """SageMaker takes no tags on a package version: the mark is not a tag, and registration passes none, so no role
    (the Train build's included) holds tag actions on model packages."""
    for stack_name, template in all_templates(stages).items():
        for logical_id, statement in statements(template):
            actions = set(listed(statement["Action"])) & TAG_ACTIONS
            resources = json.dumps(statement["Resource"])
            assert not (actions and ":model-package/" in resources), (stack_name, logical_id, actions)
            assert "aws:TagKeys" not in json.dumps(statement.get("Condition", {})), (stack_name, logical_id)


def test_the_marking_roles_write_and_the_readers_list_rolled_back_records(stages: dict[str, EnvironmentStage]) -> None:
    for env in ("dev", "prod"):
        templates = all_templates(stages)
        guarded = statements(templates[f"my-mlops-{env}-guardrails"])
        pipeline = statements(templates[f"my-mlops-{env}-pipeline"])
        puts = [s for _, s in guarded + pipeline if "s3:PutObject" in listed(s["Action"])]
        lists = [s for _, s in pipeline if "s3:ListBucket" in listed(s["Action"])]
        assert any("/rolled-back/*" in json.dumps(s["Resource"]) for s in puts), env
        prefixes = [json.dumps(s.get("Condition", {})) for s in lists]
        # the Deploy build lists the marks; dev's Promote too (prod promotes nowhere)
        assert sum('"rolled-back/*"' in p for p in prefixes) == (2 if env == "dev" else 1), env
