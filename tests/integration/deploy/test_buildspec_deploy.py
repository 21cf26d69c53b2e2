"""The commands of buildspec-deploy.yml (dev's Deploy), run as CodeBuild would, against a moto server on 127.0.0.1.

Every call of a build is decided against project `demo`'s templates as its Deploy project's service role, and the
approval record as ApprovalSync's role writes it; registering packages (the Train build's part) is the test's.
Prod's Deploy runs its own buildspec; its attacks and its happy path are in tests/integration/trust_chain."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from stacks.pipeline.release_buildspec import PINNED
from testbed import aws_contracts, iam_enforcement, iam_world
from testbed.aws import REGION, MotoServer
from testbed.deploy_world import (
    ARTIFACTS_BUCKET,
    ENDPOINT,
    ENV,
    PROJECT,
    provision_parameters,
    register_approved,
    s3_beside,
)
from testbed.evidence import approve
from testbed.iam_eval import PolicyWorld
from testbed.moto_sagemaker import endpoint_updates, queue_invocation_results
from tests.support.two_environments import Build, run_build

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
BUILDSPEC = yaml.safe_load((ROOT / "buildspec-deploy.yml").read_text())


def run_build_phase(server: MotoServer, source_dir: Path, **variables: str) -> Build:
    return run_build(server, BUILDSPEC, source_dir, **variables)


@pytest.fixture
def sm(server: MotoServer) -> Any:
    provision_parameters(server.client("ssm"))
    return server.client("sagemaker")


def test_refused_until_a_person_approved_then_deployed(server: MotoServer, sm: Any, tmp_path: Path) -> None:
    package = register_approved(sm, record=False)

    refused = run_build_phase(server, tmp_path, PROJECT=PROJECT, ENV=ENV, MODEL_PACKAGE_ARN=package)

    assert refused.exit_code == 3
    assert f"refused: model package {package} has no approval record" in refused.stderr
    assert "smoke test" not in refused.stdout
    assert sm.list_endpoints()["Endpoints"] == []

    with iam_enforcement.as_lambda_function(f"{PROJECT}-{ENV}-approval-sync"):
        approve(sm, s3_beside(sm), ARTIFACTS_BUCKET, package)
    queue_invocation_results(REGION, "0.87")
    deployed = run_build_phase(server, tmp_path, PROJECT=PROJECT, ENV=ENV, MODEL_PACKAGE_ARN=package)

    assert deployed.exit_code == 0, deployed.stderr
    assert f"verified {package}: approved by" in deployed.stdout
    assert f"created: {ENDPOINT} serves {ENDPOINT}-v1" in deployed.stdout
    assert "smoke test passed" in deployed.stdout
    assert sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointStatus"] == "InService"


def test_an_update_sagemaker_rolled_back_fails_the_build(server: MotoServer, sm: Any, tmp_path: Path) -> None:
    queue_invocation_results(REGION, "0.5")
    assert (
        run_build_phase(server, tmp_path, PROJECT=PROJECT, ENV=ENV, MODEL_PACKAGE_ARN=register_approved(sm)).exit_code
        == 0
    )
    endpoint_updates(REGION).plan(ENDPOINT, "rollback")

    build = run_build_phase(server, tmp_path, PROJECT=PROJECT, ENV=ENV, MODEL_PACKAGE_ARN=register_approved(sm))

    assert build.exit_code == 4
    assert f"deployment of {ENDPOINT}-v2 was rolled back by SageMaker" in build.stderr
    assert "smoke test" not in build.stdout


def test_a_project_without_project_and_env_stops_before_any_call(server: MotoServer, tmp_path: Path) -> None:
    build = run_build_phase(server, tmp_path, MODEL_PACKAGE_ARN="arn:x")
    assert build.exit_code == 2
    assert "PROJECT and ENV must be set on the CodeBuild project" in build.stdout


def test_a_deploy_without_the_train_actions_package_stops(server: MotoServer, tmp_path: Path) -> None:
    (tmp_path / "release.json").write_text("{}")  # a release.json pushed to dev is no input of dev's Deploy
    build = run_build_phase(server, tmp_path, PROJECT=PROJECT, ENV=ENV)
    assert build.exit_code == 2
    assert "MODEL_PACKAGE_ARN must be set (the Train action's output variable)" in build.stdout


def test_the_buildspec_names_no_account_arn_or_bucket() -> None:
    text = (ROOT / "buildspec-deploy.yml").read_text()
    assert not re.search(r"\d{12}|arn:aws|s3://", text)


def test_pip_downloads_are_cached_between_builds() -> None:
    cache_dir = BUILDSPEC["env"]["variables"]["PIP_CACHE_DIR"]
    assert BUILDSPEC["cache"]["paths"] == [f"{cache_dir}/**/*"]
    assert BUILDSPEC["phases"]["install"]["commands"] == [
        f"pip install --constraint requirements.txt {' '.join(PINNED)}",  # what the CLI imports
        "pip install --no-deps .",
    ]


def test_a_build_is_held_to_its_role_a_forgotten_grant_is_denied(
    server: MotoServer, sm: Any, tmp_path: Path, in_force: PolicyWorld
) -> None:
    """The evaluation bites here: without DescribeModelPackage, the Deploy build stops at the call, in the build."""
    package = register_approved(sm)
    role = in_force.role(project_name=f"{PROJECT}-{ENV}-deploy").arn
    forgotten = iam_world.without_action(in_force, role, "sagemaker:DescribeModelPackage")
    with iam_enforcement.policies_in_force([forgotten], tmp_path):
        build = run_build_phase(server, tmp_path, PROJECT=PROJECT, ENV=ENV, MODEL_PACKAGE_ARN=package)
    reported = aws_contracts.subprocess_violations()  # the build's denials, taken here instead of failing the test

    assert build.exit_code == 86  # a subprocess that made a refused request exits so, whatever its code did
    assert reported and all(f"IAM: sagemaker DescribeModelPackage: {role}" in line for line in reported)
    assert sm.list_endpoints()["Endpoints"] == []
