"""`safedeploy deploy`, `rollback` and `smoke-test`: the deployment guardrails from a shell or a CodeBuild step.

Names and ARNs come from the environment's SSM parameters (`--project`/`--env`, defaulting to SAFEDEPLOY_PROJECT
and SAFEDEPLOY_ENV; SAFEDEPLOY_POLL_SECONDS sets the status poll interval). Exit codes: `safedeploy.cli.exit_codes`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from safedeploy.cli import CliError
from safedeploy.cli.aws_errors import one_line
from safedeploy.cli.aws_session import add_environment_arguments, environment
from safedeploy.cli.aws_session import session as aws_session
from safedeploy.cli.exit_codes import ExitCode, aws_exit_code
from safedeploy.guardrails.deploy import deploy_package, deployment_timeout_seconds
from safedeploy.guardrails.deploy_target import DeployTarget, read_optional_parameter, read_parameter
from safedeploy.guardrails.endpoint_status import EndpointWaiter
from safedeploy.guardrails.errors import GuardrailError, PackageNotApproved
from safedeploy.guardrails.rollback import plan_rollback, rollback_endpoint
from safedeploy.guardrails.smoke_test import HEALTH_CHECK_ROW, smoke_test
from safedeploy.parameters import Param
from safedeploy.release_control.release_manifest import RELEASE_FILE, ReleaseManifest


class Summarised(Protocol):
    def summary(self) -> str: ...


def register(subparsers: Any) -> None:
    deploy = subparsers.add_parser(
        "deploy",
        help="deploy an Approved model package with the environment's guardrails",
        description="Deploy an Approved model package to the environment's endpoint with its configured strategy.",
    )
    add_environment_arguments(deploy)
    source = deploy.add_mutually_exclusive_group(required=True)
    source.add_argument("--package-arn", help="model package version ARN")
    source.add_argument("--release-file", type=Path, help=f"{RELEASE_FILE} naming the package (production)")
    deploy.add_argument(
        "--allow-rolled-back",
        action="store_true",
        help="deploy a package a rollback marked (an operator's deliberate decision; the mark clears once live)",
    )
    _poll_argument(deploy)
    deploy.set_defaults(func=run_deploy)

    rollback = subparsers.add_parser(
        "rollback",
        help="serve the previous endpoint config again (or --to a named one)",
        description="Roll the endpoint back to its previous release config in one call, and record it.",
    )
    add_environment_arguments(rollback)
    rollback.add_argument("--to", metavar="CONFIG", help="endpoint config to serve (default: the previous one)")
    rollback.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    rollback.add_argument("--reason", default="operator request", help="why, for the rollback record")
    _poll_argument(rollback)
    rollback.set_defaults(func=run_rollback)

    smoke = subparsers.add_parser(
        "smoke-test",
        help="invoke the endpoint with the health-check row",
        description="Invoke the live endpoint with the playbook's health-check row; fail unless it predicts.",
    )
    add_environment_arguments(smoke)
    smoke.add_argument("--body", default=HEALTH_CHECK_ROW, help="CSV feature row (default: %(default)s)")
    smoke.set_defaults(func=run_smoke_test)


def _poll_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--poll-seconds",
        type=float,
        default=float(os.environ.get("SAFEDEPLOY_POLL_SECONDS", "30")),
        help="seconds between endpoint status checks (default: SAFEDEPLOY_POLL_SECONDS or 30)",
    )


def _say(line: str) -> None:
    print(line, flush=True)


def _report(command: str, action: Callable[[], Summarised]) -> int:
    """Run one library call and turn its outcome into the documented exit code."""
    try:
        _say(action().summary())
        return ExitCode.OK
    except PackageNotApproved as refusal:
        print(f"safedeploy {command}: refused: {refusal}", file=sys.stderr)
        return ExitCode.NOT_APPROVED
    except GuardrailError as failure:
        print(f"safedeploy {command}: failed: {failure}", file=sys.stderr)
        return ExitCode.ROLLED_BACK
    except (ClientError, BotoCoreError, ResponseParserError) as error:
        print(f"safedeploy {command}: AWS error: {one_line(error)}", file=sys.stderr)
        return aws_exit_code(error)


def _package_arn(args: argparse.Namespace) -> str:
    if args.package_arn:
        return args.package_arn
    try:
        return ReleaseManifest.from_json(args.release_file.read_text()).model_package_arn
    except OSError as error:
        raise CliError(f"cannot read {args.release_file}: {error.strerror}") from None


def run_deploy(args: argparse.Namespace) -> int:
    project, env = environment(args)
    package_arn = _package_arn(args)
    session = aws_session(args)
    sm = session.client("sagemaker")

    def deploy() -> Summarised:
        target = DeployTarget.load(session.client("ssm"), project, env)
        timeout = deployment_timeout_seconds(target.guardrails.settings)
        waiter = EndpointWaiter(sm, poll_seconds=args.poll_seconds, timeout_seconds=timeout, progress=_say)
        _say(f"deploying {package_arn} to {target.endpoint_name} ({target.guardrails.settings.strategy.value})")
        return deploy_package(
            sm,
            package_arn,
            target,
            waiter,
            aas=session.client("application-autoscaling"),
            allow_rolled_back=args.allow_rolled_back,
        )

    return _report("deploy", deploy)


def run_rollback(args: argparse.Namespace) -> int:
    project, env = environment(args)
    session = aws_session(args)
    sm, ssm = session.client("sagemaker"), session.client("ssm")

    def rollback() -> Summarised:
        endpoint_name = read_parameter(ssm, project, env, Param.ENDPOINT_NAME)
        current, target = plan_rollback(sm, endpoint_name, args.to)
        _confirm(f"Roll back endpoint {endpoint_name} from {current} to {target}?", args.yes)
        return rollback_endpoint(
            sm,
            endpoint_name,
            to=target,
            reason=args.reason,
            waiter=EndpointWaiter(sm, poll_seconds=args.poll_seconds, progress=_say),
            s3=session.client("s3"),
            bucket=read_optional_parameter(ssm, project, env, Param.ARTIFACTS_BUCKET),
        )

    return _report("rollback", rollback)


def _confirm(question: str, assumed_yes: bool) -> None:
    if assumed_yes:
        return
    if not sys.stdin.isatty():
        raise CliError(f"{question} This changes live traffic: confirm with --yes (no terminal to ask on)")
    if input(f"{question} [y/N] ").strip().lower() not in ("y", "yes"):
        raise CliError("rollback cancelled")


def run_smoke_test(args: argparse.Namespace) -> int:
    project, env = environment(args)
    session = aws_session(args)

    def check() -> Summarised:
        endpoint_name = read_parameter(session.client("ssm"), project, env, Param.ENDPOINT_NAME)
        return smoke_test(session.client("sagemaker"), session.client("sagemaker-runtime"), endpoint_name, args.body)

    return _report("smoke-test", check)
