"""Three environments in one chain, dev -> staging -> prod: staging deploys what dev approved and forwards it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from tests.support.configuration import three_environments
from tests.unit.stacks.conftest import synth_app
from tests.unit.stacks.test_pipeline_stack import (
    DEV_STAGES,
    PROD_STAGES,
    actions_by_stage,
    arn_text,
    as_list,
    policy_statements,
    user_parameters,
)

STAGING_STAGES = [*PROD_STAGES, "PromoteApproval", "Promote"]


@pytest.fixture(scope="module")
def chain(cdk_context: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return synth_app(three_environments(cdk_context), tmp_path_factory.mktemp("chain.out"))


@pytest.fixture(scope="module")
def pipelines(chain: dict[str, Any]) -> dict[str, Template]:
    return {name: Template.from_stack(stage.pipeline) for name, stage in chain.items()}


def test_three_environments_synthesize_as_one_chain(pipelines: dict[str, Template]) -> None:
    assert {name: list(actions_by_stage(template)) for name, template in pipelines.items()} == {
        "dev": DEV_STAGES,
        "staging": STAGING_STAGES,
        "prod": PROD_STAGES,
    }


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_later_environments_deploy_with_the_origins_approved_tooling(pipelines: dict[str, Template], env: str) -> None:
    """No branch of dev's repository is a source: the Deploy runs the tooling bundle dev's records vouch for."""
    (release,) = actions_by_stage(pipelines[env])["Source"]
    assert release["Name"] == "Release"  # this environment's own repository, holding only release.json
    (project,) = (
        pipelines[env]
        .find_resources("AWS::CodeBuild::Project", {"Properties": {"Name": f"my-mlops-{env}-deploy"}})
        .values()
    )
    variables = {v["Name"]: v["Value"] for v in project["Properties"]["Environment"]["EnvironmentVariables"]}
    assert variables["SOURCE_ENV"] == "dev"


def test_dev_promotes_to_staging_and_staging_forwards_to_prod(pipelines: dict[str, Template]) -> None:
    functions = {
        env: next(
            resource["Properties"]["Environment"]["Variables"]
            for key, resource in pipelines[env].find_resources("AWS::Lambda::Function").items()
            if key.startswith("ReleaseFunctionsPromote")
        )
        for env in ("dev", "staging")
    }
    assert functions["dev"]["RELEASE_REPOSITORY"] == "my-mlops-staging"
    assert functions["staging"]["RELEASE_REPOSITORY"] == "my-mlops-prod"
    forward = user_parameters(pipelines["staging"], "Promote")
    assert forward["release_repository"] == "my-mlops-staging"
    assert functions["staging"]["APPROVAL_ACTION"] == "ApproveRelease" and "model_package_arn" not in forward
    assert forward["pipeline_execution_id"] == "#{codepipeline.PipelineExecutionId}"


def test_staging_has_no_training_functions(pipelines: dict[str, Template]) -> None:
    names = [key for key in pipelines["staging"].find_resources("AWS::Lambda::Function") if key.startswith("Release")]
    assert names and all(name.startswith("ReleaseFunctionsPromote") for name in names)


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_later_environments_read_packages_of_the_origin_only(pipelines: dict[str, Template], env: str) -> None:
    described = {
        arn_text(resource)
        for statement in policy_statements(pipelines[env])
        if "sagemaker:DescribeModelPackage" in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
    }
    assert described and all(arn.endswith(":model-package/my-mlops-dev-models/*") for arn in described), described


def test_staging_reads_only_its_own_release_file(pipelines: dict[str, Template]) -> None:
    readers = [s for s in policy_statements(pipelines["staging"]) if "codecommit:GetFile" in as_list(s["Action"])]
    assert [json.dumps(s["Resource"]).count("my-mlops-staging") for s in readers] == [1]
