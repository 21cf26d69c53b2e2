"""`pipeline.source`: dev trains from a GitHub repository through CodeConnections; prod keeps its CodeCommit release
repository (Promote commits there) and reads dev's tooling through the same connection."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from stacks.stage import EnvironmentStage
from tests.unit.stacks.conftest import synth_app
from tests.unit.stacks.test_pipeline_stack import actions_by_stage, policy_statements

CONNECTION_PARAMETER = "/my-mlops/dev/source-connection-arn"
GITHUB = {
    "kind": "codeconnections",
    "provider": "GitHub",
    "connection_arn_parameter": CONNECTION_PARAMETER,
    "repository": "example-org/my-mlops",
}


@pytest.fixture(scope="module")
def connected(cdk_context: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, EnvironmentStage]:
    """The shipped app with dev's source on GitHub, synthesized through the cdk-nag gate."""
    context = copy.deepcopy(cdk_context)
    context["environments"]["dev"].setdefault("pipeline", {})["source"] = GITHUB
    return synth_app(context, tmp_path_factory.mktemp("connected.out"))


def connection_parameter_ref(template: Template) -> dict[str, str]:
    parameters = template.to_json()["Parameters"]
    (name,) = [key for key, value in parameters.items() if value.get("Default") == CONNECTION_PARAMETER]
    assert parameters[name]["Type"] == "AWS::SSM::Parameter::Value<String>"
    return {"Ref": name}


def test_dev_trains_from_the_connection_on_pushes_to_its_branch(connected: dict[str, EnvironmentStage]) -> None:
    template = Template.from_stack(connected["dev"].pipeline)
    (source,) = actions_by_stage(template)["Source"]
    assert source["ActionTypeId"] == {
        "Category": "Source", "Owner": "AWS", "Provider": "CodeStarSourceConnection", "Version": "1",
    }  # fmt: skip
    assert source["Configuration"] == {
        "ConnectionArn": connection_parameter_ref(template),
        "FullRepositoryId": "example-org/my-mlops",
        "BranchName": "main",
        "DetectChanges": True,
    }
    assert source["Namespace"] == "Source"
    assert not template.find_resources("AWS::CodeCommit::Repository"), "no CodeCommit repository for dev"
    granted = {
        action
        for statement in policy_statements(template)
        if statement["Resource"] == connection_parameter_ref(template)
        for action in (statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
    }
    # Connections created since July 2024 have codeconnections ARNs: IAM needs that service's action for them.
    assert {"codestar-connections:UseConnection", "codeconnections:UseConnection"} <= granted
    every_use = [s for s in policy_statements(template) if "UseConnection" in json.dumps(s["Action"])]
    assert all(s["Resource"] == connection_parameter_ref(template) for s in every_use)


def test_promote_still_receives_the_source_commit(connected: dict[str, EnvironmentStage]) -> None:
    template = Template.from_stack(connected["dev"].pipeline)
    (promote,) = actions_by_stage(template)["Promote"]
    assert json.loads(promote["Configuration"]["UserParameters"])["source_commit"] == "#{Source.CommitId}"


def test_prod_reads_only_its_release_repository_when_dev_trains_from_a_connection(
    connected: dict[str, EnvironmentStage],
) -> None:
    """Prod runs the tooling bundle dev's records vouch for, so no branch of dev's connection is a source of prod."""
    template = Template.from_stack(connected["prod"].pipeline)
    (release,) = actions_by_stage(template)["Source"]
    assert release["ActionTypeId"]["Provider"] == "CodeCommit"
    template.resource_count_is("AWS::CodeCommit::Repository", 1)


def test_the_source_is_published_for_doctor(connected: dict[str, EnvironmentStage]) -> None:
    template = Template.from_stack(connected["dev"].storage)
    (parameter,) = [
        resource["Properties"]
        for resource in template.find_resources("AWS::SSM::Parameter").values()
        if resource["Properties"]["Name"] == "/my-mlops/dev/pipeline-source"
    ]
    assert json.loads(parameter["Value"]) == {
        "kind": "codeconnections",
        "repository": "example-org/my-mlops",
        "branch": "main",
        "provider": "GitHub",
        "connection_arn_parameter": CONNECTION_PARAMETER,
    }
