"""`safedeploy deploy / rollback / smoke-test` in-process on moto: outcomes become the documented exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from safedeploy.cli import main
from testbed.aws import REGION
from testbed.deploy_world import (
    ARTIFACTS_BUCKET,
    ENDPOINT,
    ENV,
    PROJECT,
    provision_parameters,
    register_approved,
    s3_beside,
)
from testbed.evidence import APPROVER, promote_record
from testbed.moto_sagemaker import EndpointUpdates, queue_invocation_results

SCOPE = ["--project", PROJECT, "--env", ENV]
UNKNOWN_PACKAGE = f"arn:aws:sagemaker:{REGION}:123456789012:model-package/g/1"


@pytest.fixture(autouse=True)
def environment(ssm: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    provision_parameters(ssm)
    monkeypatch.setenv("SAFEDEPLOY_POLL_SECONDS", "0")
    monkeypatch.chdir(tmp_path)  # no cdk.json here: the environment's region is moto's, not the shipped file's


def deploy(package_arn: str) -> int:
    return main(["deploy", *SCOPE, "--package-arn", package_arn])


def test_deploy_reports_progress_and_succeeds(sm: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert deploy(register_approved(sm)) == 0
    assert f"created: {ENDPOINT} serves {ENDPOINT}-v1" in capsys.readouterr().out


def test_a_package_approved_in_the_registry_but_not_by_a_person_exits_3(
    sm: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    package = register_approved(sm, record=False)
    assert deploy(package) == 3
    assert f"safedeploy deploy: refused: model package {package} has no approval record" in capsys.readouterr().err
    assert sm.list_endpoints()["Endpoints"] == [] and sm.list_models()["Models"] == []


def test_a_rolled_back_deployment_exits_4(
    sm: Any, updates: EndpointUpdates, capsys: pytest.CaptureFixture[str]
) -> None:
    deploy(register_approved(sm))
    updates.plan(ENDPOINT, "rollback")
    assert deploy(register_approved(sm)) == 4
    assert "safedeploy deploy: failed: deployment of" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["deploy", *SCOPE, "--package-arn", "model-7"], "'model-7' is not a versioned model package ARN"),
        (["deploy", "--project", PROJECT, "--package-arn", "x"], "--env is required (or set SAFEDEPLOY_ENV)"),
        (["deploy", "--project", "nobody", "--env", ENV, "--package-arn", UNKNOWN_PACKAGE],
         "SSM parameter /nobody/dev/endpoint-name not found"),
        (["deploy", *SCOPE, "--release-file", "missing/release.json", "--source-env", ENV],
         "cannot read missing/release.json"),
        (["rollback", *SCOPE, "--yes"], f"endpoint {ENDPOINT} does not exist: nothing to roll back"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_with_one_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_project_and_env_default_from_the_environment(sm: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFEDEPLOY_PROJECT", PROJECT)
    monkeypatch.setenv("SAFEDEPLOY_ENV", ENV)
    assert main(["deploy", "--package-arn", register_approved(sm)]) == 0


def test_deploy_from_a_release_file_serves_a_verified_copy(sm: Any, tmp_path: Path) -> None:
    package = register_approved(sm)
    record = promote_record(sm, s3_beside(sm), ARTIFACTS_BUCKET, package)
    evidence = record.evidence
    release = tmp_path / "release.json"
    release.write_text(
        json.dumps(
            {
                "model_package_arn": package,
                "source_commit": evidence.source_commit,
                "metrics": {"auc": 0.9},
                "approved_by": APPROVER,
                "promoted_by": record.approver,
                "pipeline_execution_id": record.pipeline_execution_id,
                "promoted_at": "2026-03-01T12:00:00+00:00",
                "model_sha256": evidence.model_sha256,
                "evaluation_sha256": evidence.evaluation_sha256,
                "tooling_sha256": evidence.tooling_sha256,
                "schema_version": 2,
            }
        )
    )
    assert main(["deploy", *SCOPE, "--release-file", str(release), "--source-env", ENV]) == 0
    assert sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"] == f"{ENDPOINT}-v1"
    served = sm.describe_model(ModelName=f"{ENDPOINT}-v1")["PrimaryContainer"]["ModelDataUrl"]
    assert served == f"s3://{ARTIFACTS_BUCKET}/models/promoted/demo-dev-models/1/model.tar.gz"


def test_a_release_file_needs_its_source_environment(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["deploy", *SCOPE, "--release-file", str(tmp_path / "release.json")]) == 2
    assert "--source-env is required with --release-file" in capsys.readouterr().err


def test_rollback_needs_confirmation_without_a_terminal(sm: Any, capsys: pytest.CaptureFixture[str]) -> None:
    deploy(register_approved(sm))
    deploy(register_approved(sm))
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
    deploy(register_approved(sm))
    queue_invocation_results(REGION, "0.61")
    assert main(["smoke-test", *SCOPE]) == 0
    assert "smoke test passed" in capsys.readouterr().out
