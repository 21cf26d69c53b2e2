"""The commands of buildspec-deploy.yml, run as CodeBuild would, against a moto server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.aws import REGION, MotoServer
from tests.support.deploy_world import ENDPOINT, ENV, PROJECT, provision_parameters, register_package
from tests.support.moto_sagemaker import endpoint_updates, queue_invocation_results

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
BUILDSPEC = yaml.safe_load((ROOT / "buildspec-deploy.yml").read_text())


@dataclass(frozen=True)
class Build:
    exit_code: int
    stdout: str
    stderr: str


def run_build_phase(server: MotoServer, source_dir: Path, **variables: str) -> Build:
    """Each build command in its own bash, in order, stopping at the first failure (CodeBuild's phase semantics)."""
    environment = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(source_dir),
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "SAFEDEPLOY_POLL_SECONDS": "0",
        "CODEBUILD_SRC_DIR": str(source_dir),
        **server.environment(),
        **variables,
    }
    stdout, stderr = [], []
    for command in BUILDSPEC["phases"]["build"]["commands"]:
        done = subprocess.run(
            ["bash", "-c", command], env=environment, cwd=source_dir, capture_output=True, text=True, timeout=120
        )
        stdout.append(done.stdout)
        stderr.append(done.stderr)
        if done.returncode != 0:
            return Build(done.returncode, "".join(stdout), "".join(stderr))
    return Build(0, "".join(stdout), "".join(stderr))


@pytest.fixture
def sm(server: MotoServer) -> Any:
    provision_parameters(server.client("ssm"))
    return server.client("sagemaker")


def test_refused_while_pending_approval_then_deployed_once_approved(
    server: MotoServer, sm: Any, tmp_path: Path
) -> None:
    package = register_package(sm, status="PendingManualApproval")

    refused = run_build_phase(server, tmp_path, PROJECT=PROJECT, ENV=ENV, MODEL_PACKAGE_ARN=package)

    assert refused.exit_code == 3
    assert f"refused: model package {package} is PendingManualApproval, not Approved" in refused.stderr
    assert "smoke test" not in refused.stdout
    assert sm.list_endpoints()["Endpoints"] == []
    assert sm.describe_model_package(ModelPackageName=package)["ModelApprovalStatus"] == "PendingManualApproval"

    sm.update_model_package(ModelPackageArn=package, ModelApprovalStatus="Approved")
    queue_invocation_results(REGION, "0.87")
    deployed = run_build_phase(server, tmp_path, PROJECT=PROJECT, ENV=ENV, MODEL_PACKAGE_ARN=package)

    assert deployed.exit_code == 0, deployed.stderr
    assert f"created: {ENDPOINT} serves {ENDPOINT}-v1" in deployed.stdout
    assert "smoke test passed" in deployed.stdout
    assert sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointStatus"] == "InService"


def test_production_deploys_the_package_named_in_release_json(server: MotoServer, sm: Any, tmp_path: Path) -> None:
    package = register_package(sm)
    manifest = {
        "model_package_arn": package,
        "source_commit": "0123abc",
        "metrics": {"auc": 0.91},
        "approved_by": "alice",
        "promoted_by": "bob",
        "pipeline_execution_id": "exec-1",
        "promoted_at": "2026-03-01T12:00:00+00:00",
        "schema_version": 1,
    }
    (tmp_path / "release.json").write_text(json.dumps(manifest))
    queue_invocation_results(REGION, "0.42")

    build = run_build_phase(server, tmp_path, PROJECT=PROJECT, ENV=ENV)

    assert build.exit_code == 0, build.stderr
    assert sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"] == f"{ENDPOINT}-v1"


def test_an_update_sagemaker_rolled_back_fails_the_build(server: MotoServer, sm: Any, tmp_path: Path) -> None:
    queue_invocation_results(REGION, "0.5")
    assert (
        run_build_phase(server, tmp_path, PROJECT=PROJECT, ENV=ENV, MODEL_PACKAGE_ARN=register_package(sm)).exit_code
        == 0
    )
    endpoint_updates(REGION).plan(ENDPOINT, "rollback")

    build = run_build_phase(server, tmp_path, PROJECT=PROJECT, ENV=ENV, MODEL_PACKAGE_ARN=register_package(sm))

    assert build.exit_code == 4
    assert f"deployment of {ENDPOINT}-v2 was rolled back by SageMaker" in build.stderr
    assert "smoke test" not in build.stdout


def test_a_project_without_project_and_env_stops_before_any_call(server: MotoServer, tmp_path: Path) -> None:
    build = run_build_phase(server, tmp_path, MODEL_PACKAGE_ARN="arn:x")
    assert build.exit_code == 2
    assert "PROJECT and ENV must be set on the CodeBuild project" in build.stdout


def test_the_buildspec_names_no_account_arn_or_bucket() -> None:
    text = (ROOT / "buildspec-deploy.yml").read_text()
    assert not re.search(r"\d{12}|arn:aws|s3://", text)


def test_pip_downloads_are_cached_between_builds() -> None:
    cache_dir = BUILDSPEC["env"]["variables"]["PIP_CACHE_DIR"]
    assert BUILDSPEC["cache"]["paths"] == [f"{cache_dir}/**/*"]
    install = "\n".join(BUILDSPEC["phases"]["install"]["commands"])
    assert '--constraint "$code_dir/requirements.txt" boto3' in install


@pytest.fixture
def recording_pip(tmp_path: Path) -> Path:
    """A `pip` first on PATH that records its arguments instead of installing."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    pip = bin_dir / "pip"
    pip.write_text(f'#!/bin/sh\necho "$@" >> "{tmp_path}/pip.log"\n')
    pip.chmod(0o755)
    return bin_dir


@pytest.mark.parametrize("code_source", ["primary", "secondary"])
def test_install_finds_the_library_in_the_source_that_holds_it(
    tmp_path: Path, recording_pip: Path, code_source: str
) -> None:
    primary, secondary = tmp_path / "primary", tmp_path / "code"
    for directory in (primary, secondary):
        directory.mkdir()
    (primary / "release.json").write_text("{}")
    code_dir = primary if code_source == "primary" else secondary
    (code_dir / "pyproject.toml").write_text("")
    environment = {
        "PATH": f"{recording_pip}{os.pathsep}{os.environ['PATH']}",
        "CODEBUILD_SRC_DIR": str(primary),
        "CODEBUILD_SRC_DIR_code": str(secondary),
    }
    for command in BUILDSPEC["phases"]["install"]["commands"]:
        subprocess.run(["bash", "-c", command], env=environment, check=True, capture_output=True, timeout=30)
    assert (tmp_path / "pip.log").read_text().splitlines() == [
        f"install --constraint {code_dir}/requirements.txt boto3 botocore",
        f"install --no-deps {code_dir}",
    ]
