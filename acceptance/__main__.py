"""`make acceptance ENV=<scratch> [FROM=dev]`: the acceptance suite in the account of the current credentials.

Exit 0 when no behaviour `failed` (a `fallback` is a finding, not a failure), 7 when one did, 2 for bad input, 5 without
credentials. The scratch stacks are deleted whatever happens; docs/acceptance.md says what may be left.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from acceptance.run import IAM_SETTLE_SECONDS, AcceptanceRun
from acceptance.scratch import scratch_plan
from safedeploy.build_steps.model_plugin import ModelPlugin
from safedeploy.cli.exit_codes import ExitCode
from safedeploy.operations.acceptance_results import Outcome

PROBE_SID = "AcceptanceSuiteProbe"
ASSUME_ATTEMPTS = 8


def cdk_runner(env: str, base: str) -> Callable[[Sequence[str]], None]:
    """The project's pinned CDK CLI, on the scratch app (acceptance/cdk_app.py)."""

    def cdk(arguments: Sequence[str]) -> None:
        command = ["npx", "--no-install", "cdk", *arguments, "--app", f"{sys.executable} -m acceptance.cdk_app"]
        subprocess.run(command, check=True, env={**os.environ, "ACCEPTANCE_ENV": env, "ACCEPTANCE_FROM": base})

    return cdk


def role_s3(session: boto3.session.Session, account: str) -> Callable[[str], Any]:
    """An S3 client acting as a scratch role: the role's trust gains this account for the run (the stack, and with it
    the role, is deleted at the end)."""
    iam, sts = session.client("iam"), session.client("sts")

    def assume(arn: str) -> Any:
        name = arn.rsplit("/", 1)[-1]
        document = iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
        if not any(statement.get("Sid") == PROBE_SID for statement in document["Statement"]):
            probe = {"Sid": PROBE_SID, "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                     "Action": "sts:AssumeRole"}  # fmt: skip
            document = {**document, "Statement": [*document["Statement"], probe]}
            iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(document))
        for attempt in range(ASSUME_ATTEMPTS):
            try:
                credentials = sts.assume_role(RoleArn=arn, RoleSessionName="acceptance-probe")["Credentials"]
                break
            except ClientError:
                if attempt == ASSUME_ATTEMPTS - 1:
                    raise
                time.sleep(IAM_SETTLE_SECONDS)
        return boto3.session.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=session.region_name,
        ).client("s3")

    return assume


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make acceptance", description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True, help="a scratch environment name that cdk.json does not define")
    parser.add_argument("--from", dest="base", default="dev", help="the environment of cdk.json it copies (dev)")
    args = parser.parse_args(argv)
    context = json.loads(Path("cdk.json").read_text())["context"]
    try:
        plan = scratch_plan(context, args.env, args.base)
        model = ModelPlugin.from_mapping(context.get("model"), path="model")
    except ValueError as error:
        print(f"acceptance: {error}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    session = boto3.session.Session(region_name=plan.region)
    try:
        account = session.client("sts").get_caller_identity()["Account"]
    except (NoCredentialsError, BotoCoreError, ClientError) as error:
        print(f"acceptance: no usable AWS credentials ({error})", file=sys.stderr)
        return ExitCode.NO_CREDENTIALS
    with tempfile.TemporaryDirectory(prefix="acceptance-") as work_dir:
        run = AcceptanceRun(
            plan=plan,
            client=session.client,
            cdk=cdk_runner(plan.env, plan.base),
            model=model,
            work_dir=Path(work_dir),
            assume_role=role_s3(session, account),
        )
        findings = run.run()
    return ExitCode.CHECKS_FAILED if any(finding.outcome is Outcome.FAILED for finding in findings) else ExitCode.OK


if __name__ == "__main__":
    sys.exit(main())
