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

from acceptance.run import AcceptanceRun
from acceptance.scratch import scratch_plan
from safedeploy.build_steps.model_plugin import ModelPlugin
from safedeploy.cli.exit_codes import ExitCode
from safedeploy.operations.acceptance_results import Outcome

PROBE_SID = "AcceptanceSuiteProbe"
# A role's new trust reaches STS after a short delay.
ASSUME_ATTEMPTS, IAM_SETTLE_SECONDS = 8, 15.0


def cdk_runner(env: str, base: str) -> Callable[[Sequence[str]], None]:
    """The project's pinned CDK CLI, on the scratch app (acceptance/cdk_app.py)."""

    def cdk(arguments: Sequence[str]) -> None:
        command = ["npx", "--no-install", "cdk", *arguments, "--app", f"{sys.executable} -m acceptance.cdk_app"]
        subprocess.run(command, check=True, env={**os.environ, "ACCEPTANCE_ENV": env, "ACCEPTANCE_FROM": base})

    return cdk


class ScratchRoles:
    """S3 clients acting as the scratch roles: each role's trust gains this account (statement `PROBE_SID`) while
    the suite reads as it, and loses it again in `restore` (the stacks, and the roles, are deleted afterwards)."""

    def __init__(self, session: boto3.session.Session, account: str) -> None:
        self._session, self._account = session, account
        self._iam, self._sts = session.client("iam"), session.client("sts")
        self._widened: list[str] = []

    def __call__(self, arn: str) -> Any:
        name = arn.rsplit("/", 1)[-1]
        document = self._iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
        if not any(statement.get("Sid") == PROBE_SID for statement in document["Statement"]):
            probe = {"Sid": PROBE_SID, "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{self._account}:root"},
                     "Action": "sts:AssumeRole"}  # fmt: skip
            widened = {**document, "Statement": [*document["Statement"], probe]}
            self._iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(widened))
            self._widened.append(name)
        for attempt in range(ASSUME_ATTEMPTS):
            try:
                credentials = self._sts.assume_role(RoleArn=arn, RoleSessionName="acceptance-probe")["Credentials"]
                break
            except ClientError:
                if attempt == ASSUME_ATTEMPTS - 1:
                    raise
                time.sleep(IAM_SETTLE_SECONDS)
        return boto3.session.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=self._session.region_name,
        ).client("s3")

    def restore(self) -> None:
        for name in self._widened:
            document = self._iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
            kept = [statement for statement in document["Statement"] if statement.get("Sid") != PROBE_SID]
            self._iam.update_assume_role_policy(
                RoleName=name, PolicyDocument=json.dumps({**document, "Statement": kept})
            )
        self._widened.clear()


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
            assume_role=ScratchRoles(session, account),
        )
        findings = run.run()
    return ExitCode.CHECKS_FAILED if any(finding.outcome is Outcome.FAILED for finding in findings) else ExitCode.OK


if __name__ == "__main__":
    sys.exit(main())
