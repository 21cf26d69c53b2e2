"""Operator paths: one exit code per outcome, the region from cdk.json or AWS_REGION, the approval comment within
the API's limit.

A CI job branches on the exit code, so "no credentials" must never look like "rolled back" (both used to be 4).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError

from safedeploy.cli import main
from safedeploy.cli.aws_session import session
from safedeploy.cli.exit_codes import MEANINGS, ExitCode, aws_exit_code
from safedeploy.operations.pipeline_actions import MAX_COMMENT_CHARACTERS, decide
from safedeploy.parameters import Param, parameter_name
from testbed.aws import SESSION, in_process_aws
from testbed.deploy_world import ENV, PROJECT, provision_parameters, register_package
from testbed.lambda_fakes import stubbed

ROOT = Path(__file__).resolve().parents[3]
SCOPE = ["--project", PROJECT, "--env", ENV]
PACKAGE = "arn:aws:sagemaker:ap-northeast-2:123456789012:model-package/demo-dev-models/1"


@pytest.fixture
def no_aws_setup(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """A machine with no credentials and no region anywhere boto3 looks (environment, files, instance metadata)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION",
                 "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


def region_of(**options: Any) -> str | None:
    args = argparse.Namespace(profile=None, region=options.get("region"))
    return session(args).region_name


def test_the_cli_honours_aws_region(no_aws_setup: pytest.MonkeyPatch) -> None:
    no_aws_setup.setenv("AWS_REGION", "eu-west-1")
    assert region_of() == "eu-west-1"


def test_aws_region_wins_over_aws_default_region_and_region_wins_over_both(no_aws_setup: pytest.MonkeyPatch) -> None:
    no_aws_setup.setenv("AWS_DEFAULT_REGION", "us-east-1")
    assert region_of() == "us-east-1"
    no_aws_setup.setenv("AWS_REGION", "eu-west-1")
    assert region_of() == "eu-west-1"
    assert region_of(region="ap-northeast-2") == "ap-northeast-2"


def test_the_environments_region_in_cdk_json_wins_over_the_sdks_order(
    no_aws_setup: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    environments = {"dev": {"region": "eu-central-1"}, "prod": {}}
    (tmp_path / "cdk.json").write_text(json.dumps({"context": {"project": "p", "environments": environments}}))
    no_aws_setup.chdir(tmp_path)
    no_aws_setup.setenv("AWS_REGION", "eu-west-1")

    def region_for(env: str, region: str | None = None) -> str | None:
        return session(argparse.Namespace(profile=None, region=region, env=env)).region_name

    assert region_for("dev") == "eu-central-1"
    assert region_for("prod") == "ap-northeast-2"  # the region an environment takes when cdk.json names none
    assert region_for("staging") == "eu-west-1"  # not in cdk.json: the SDKs' order
    assert region_for("dev", region="us-east-1") == "us-east-1"


def test_no_credentials_exits_5_not_4(no_aws_setup: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    no_aws_setup.setenv("AWS_REGION", "ap-northeast-2")
    assert main(["deploy", *SCOPE, "--package-arn", PACKAGE]) == ExitCode.NO_CREDENTIALS == 5
    assert capsys.readouterr().err.strip() == (
        "safedeploy deploy: AWS error: no AWS credentials found: set AWS_PROFILE (or --profile) or run `aws configure`"
    )
    assert main(["status", *SCOPE]) == 5


def test_no_region_exits_5(
    no_aws_setup: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    no_aws_setup.chdir(tmp_path)  # no cdk.json to name the environment's region either
    no_aws_setup.setenv("AWS_ACCESS_KEY_ID", "testing")
    no_aws_setup.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    assert main(["smoke-test", *SCOPE]) == 5
    assert (
        "no AWS region: pass --region, run from the directory of the cdk.json that names --env, or set AWS_REGION"
        in (capsys.readouterr().err)
    )


def test_an_unknown_profile_exits_5(no_aws_setup: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", *SCOPE, "--profile", "nobody", "--region", "ap-northeast-2"]) == 5
    assert "AWS profile 'nobody' not found" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("code", "expected"),
    [("ExpiredTokenException", ExitCode.NO_CREDENTIALS), ("UnrecognizedClientException", ExitCode.NO_CREDENTIALS),
     ("AccessDeniedException", ExitCode.AWS_ERROR), ("ValidationException", ExitCode.AWS_ERROR)],
)  # fmt: skip
def test_rejected_credentials_are_a_setup_problem(code: str, expected: ExitCode) -> None:
    assert aws_exit_code(ClientError({"Error": {"Code": code, "Message": "m"}}, "GetParameter")) is expected


def test_bad_deployment_settings_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Bad configuration is its own outcome: the deployment-config parameter is not valid JSON."""
    monkeypatch.chdir(tmp_path)  # no cdk.json here: the environment's region is moto's, not the shipped file's
    with in_process_aws(monkeypatch):
        ssm, sm = SESSION.client("ssm"), SESSION.client("sagemaker")
        provision_parameters(ssm)
        name = parameter_name(PROJECT, ENV, Param.DEPLOYMENT_CONFIG)
        ssm.put_parameter(Name=name, Value="{not json", Type="String", Overwrite=True)
        assert main(["deploy", *SCOPE, "--package-arn", register_package(sm)]) == ExitCode.BAD_INPUT
    assert f"{name}: not valid JSON" in capsys.readouterr().err


def test_the_four_outcomes_a_ci_job_tells_apart_are_distinct() -> None:
    outcomes = {ExitCode.BAD_INPUT, ExitCode.NO_CREDENTIALS, ExitCode.NOT_APPROVED, ExitCode.ROLLED_BACK}
    assert len({int(code) for code in outcomes}) == 4


def test_the_readme_table_is_the_exit_code_enum() -> None:
    section = (ROOT / "README.md").read_text().split("### Exit codes", 1)[1].split("\n#", 1)[0]
    rows = dict(re.findall(r"^\| (\d+) \| (.+) \|$", section, flags=re.MULTILINE))
    assert {int(code): meaning for code, meaning in rows.items()} == {int(c): m for c, m in MEANINGS.items()}
    assert set(MEANINGS) == set(ExitCode)


def test_the_comment_limit_is_the_api_limit() -> None:
    model = botocore.session.get_session().get_service_model("codepipeline")
    summary = model.operation_model("PutApprovalResult").input_shape.members["result"].members["summary"]
    assert summary.metadata["max"] == MAX_COMMENT_CHARACTERS == 512


def test_a_comment_over_512_characters_is_refused_before_any_call(capsys: pytest.CaptureFixture[str]) -> None:
    stub = stubbed("codepipeline")
    with stub.stubber, pytest.raises(ValueError) as refusal:
        decide(stub.client, "demo-dev-pipeline", "Approved", "x" * 513)
    assert str(refusal.value) == (
        "--comment is 513 characters; CodePipeline keeps at most 512 (PutApprovalResult summary): shorten it"
    )
    stub.stubber.assert_no_pending_responses()
