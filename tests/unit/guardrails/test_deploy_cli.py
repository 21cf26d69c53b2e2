"""`safedeploy deploy / rollback / smoke-test` in-process on moto: outcomes become the documented exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from safedeploy.cli import main
from tests.support.aws import REGION
from tests.support.deploy_world import ENDPOINT, ENV, PROJECT, provision_parameters, register_package
from tests.support.moto_sagemaker import EndpointUpdates, queue_invocation_results

SCOPE = ["--project", PROJECT, "--env", ENV]
UNKNOWN_PACKAGE = f"arn:aws:sagemaker:{REGION}:123456789012:model-package/g/1"


@pytest.fixture(autouse=True)
def environment(ssm: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    provision_parameters(ssm)
    monkeypatch.setenv("SAFEDEPLOY_POLL_SECONDS", "0")


def deploy(package_arn: str) -> int:
    return main(["deploy", *SCOPE, "--package-arn", package_arn])


def test_deploy_reports_progress_and_succeeds(sm: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert deploy(register_package(sm)) == 0
    assert f"created: {ENDPOINT} serves {ENDPOINT}-v1" in capsys.readouterr().out


def test_a_package_waiting_for_approval_exits_3(sm: Any, capsys: pytest.CaptureFixture[str]) -> None:
    package = register_package(sm, status="PendingManualApproval")
    assert deploy(package) == 3
    assert f"safedeploy deploy: refused: model package {package} is PendingManualApproval" in capsys.readouterr().err


def test_a_rolled_back_deployment_exits_4(
    sm: Any, updates: EndpointUpdates, capsys: pytest.CaptureFixture[str]
) -> None:
    deploy(register_package(sm))
    updates.plan(ENDPOINT, "rollback")
    assert deploy(register_package(sm)) == 4
    assert "safedeploy deploy: failed: deployment of" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["deploy", *SCOPE, "--package-arn", "model-7"], "'model-7' is not a versioned model package ARN"),
        (["deploy", "--project", PROJECT, "--package-arn", "x"], "--env is required (or set SAFEDEPLOY_ENV)"),
        (["deploy", "--project", "nobody", "--env", ENV, "--package-arn", UNKNOWN_PACKAGE],
         "SSM parameter /nobody/dev/endpoint-name not found"),
        (["deploy", *SCOPE, "--release-file", "missing/release.json"], "cannot read missing/release.json"),
        (["rollback", *SCOPE, "--yes"], f"endpoint {ENDPOINT} does not exist: nothing to roll back"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_with_one_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_project_and_env_default_from_the_environment(sm: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFEDEPLOY_PROJECT", PROJECT)
    monkeypatch.setenv("SAFEDEPLOY_ENV", ENV)
    assert main(["deploy", "--package-arn", register_package(sm)]) == 0


def test_deploy_from_a_release_file(sm: Any, tmp_path: Path) -> None:
    release = tmp_path / "release.json"
    release.write_text(
        json.dumps(
            {
                "model_package_arn": register_package(sm),
                "source_commit": "abc123",
                "metrics": {"auc": 0.9},
                "approved_by": "alice",
                "promoted_by": "bob",
                "pipeline_execution_id": "exec-1",
                "promoted_at": "2026-03-01T12:00:00+00:00",
                "schema_version": 1,
            }
        )
    )
    assert main(["deploy", *SCOPE, "--release-file", str(release)]) == 0
    assert sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"] == f"{ENDPOINT}-v1"


def test_rollback_needs_confirmation_without_a_terminal(sm: Any, capsys: pytest.CaptureFixture[str]) -> None:
    deploy(register_package(sm))
    deploy(register_package(sm))
    capsys.readouterr()
    assert main(["rollback", *SCOPE]) == 2
    assert f"Roll back endpoint {ENDPOINT} from {ENDPOINT}-v2 to {ENDPOINT}-v1? This changes live traffic" in (
        capsys.readouterr().err
    )
    assert main(["rollback", *SCOPE, "--yes"]) == 0
    assert f"rolled back {ENDPOINT}: {ENDPOINT}-v2 -> {ENDPOINT}-v1" in capsys.readouterr().out


def test_smoke_test_exit_codes(sm: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["smoke-test", *SCOPE]) == 4
    assert f"endpoint {ENDPOINT} does not exist" in capsys.readouterr().err
    deploy(register_package(sm))
    queue_invocation_results(REGION, "0.61")
    assert main(["smoke-test", *SCOPE]) == 0
    assert "smoke test passed" in capsys.readouterr().out
