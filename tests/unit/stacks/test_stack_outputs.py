"""The outputs a new user reads after `cdk deploy`: where to push, where to look, whom to subscribe."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from stacks.stage import EnvironmentStage


def outputs(stack: Any) -> dict[str, Any]:
    return Template.from_stack(stack).to_json().get("Outputs", {})


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_pipeline_stack_says_where_to_push_and_whom_to_subscribe(
    stages: dict[str, EnvironmentStage], env: str
) -> None:
    found = outputs(stages[env].pipeline)
    assert {"RepositoryCloneUrl", "RepositoryHttpUrl", "ApprovalTopicArn", "PipelineUrl"} <= set(found)
    assert "Ref" in json.dumps(found["ApprovalTopicArn"]["Value"])
    assert f"my-mlops-{env}-pipeline/view" in json.dumps(found["PipelineUrl"]["Value"])


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_dashboard_ops_topic_and_gateway_are_outputs(stages: dict[str, EnvironmentStage], env: str) -> None:
    monitoring = outputs(stages[env].monitoring)
    assert f"dashboards/dashboard/my-mlops-{env}-operations" in json.dumps(monitoring["DashboardUrl"]["Value"])
    assert "OpsTopicArn" in monitoring
    assert "GatewayUrl" in outputs(stages[env].serving)
