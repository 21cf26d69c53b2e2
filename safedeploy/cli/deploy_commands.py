"""`safedeploy deploy`, `rollback` and `smoke-test`: the deployment guardrails from a shell or a CodeBuild step.

Names and ARNs come from the environment's SSM parameters (`--project`/`--env`, defaulting to SAFEDEPLOY_PROJECT
and SAFEDEPLOY_ENV; SAFEDEPLOY_POLL_SECONDS sets the status poll interval). Exit codes: `safedeploy.cli.exit_codes`;
3 (refused) covers no matching approval record, bytes or release.json that do not match it, a registry status that is
not Approved and a rolled-back package, so a pipeline can tell "nobody approved this" from "this broke" (4).

`deploy --package-arn` (the training environment) deploys a package of its own group; `deploy --release-file`
(an environment promoted to) deploys what `--source-env` approved, from a verified copy in its own bucket.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from safedeploy import registry
from safedeploy.cli import CliError
from safedeploy.cli.aws_session import add_environment_arguments, environment
from safedeploy.cli.aws_session import session as aws_session
from safedeploy.cli.exit_codes import ExitCode
from safedeploy.cli.number_arguments import MAX_POLL_SECONDS, number_in
from safedeploy.guardrails.deploy import deploy_package, deployment_timeout_seconds
from safedeploy.guardrails.deploy_target import DeployTarget, read_parameter
from safedeploy.guardrails.endpoint_status import EndpointWaiter
from safedeploy.guardrails.errors import GuardrailError, PackageNotApproved
from safedeploy.guardrails.model_package import require_package_arn
from safedeploy.guardrails.rollback import plan_rollback, rollback_endpoint
from safedeploy.guardrails.rolled_back import RolledBackMarks
from safedeploy.guardrails.smoke_test import smoke_test
from safedeploy.parameters import Param
from safedeploy.serving_contract import ServingContract
from safedeploy.trust.approval_record import RecordStore
from safedeploy.trust.deployable import (
    Deployable,
    OwnBucket,
    require_served_here,
    take_ownership,
    verify_bytes,
    verify_package,
    verify_promoted,
)
from safedeploy.trust.release_manifest import RELEASE_FILE, ReleaseManifest


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
    deploy.add_argument(
        "--source-env",
        default=os.environ.get("SAFEDEPLOY_SOURCE_ENV"),
        help="with --release-file: the environment whose approval records vouch for it "
        "(default: SAFEDEPLOY_SOURCE_ENV)",
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
    smoke.add_argument(
        "--body", help="request body (default: the health-check row of the model's serving contract, from SSM)"
    )
    smoke.set_defaults(func=run_smoke_test)


def _poll_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--poll-seconds",
        type=number_in(0, MAX_POLL_SECONDS),
        # A string default goes through `type` too, so a bad SAFEDEPLOY_POLL_SECONDS is a one-line usage error.
        default=os.environ.get("SAFEDEPLOY_POLL_SECONDS", "30"),
        help=f"seconds between endpoint status checks, 0-{MAX_POLL_SECONDS} (default: SAFEDEPLOY_POLL_SECONDS or 30)",
    )


def _say(line: str) -> None:
    print(line, flush=True)


def _report(command: str, action: Callable[[], Summarised]) -> int:
    """Run one library call and turn its outcome into the documented exit code (`main` reports AWS errors)."""
    try:
        _say(action().summary())
        return ExitCode.OK
    except PackageNotApproved as refusal:
        print(f"safedeploy {command}: refused: {refusal}", file=sys.stderr)
        return ExitCode.NOT_APPROVED
    except GuardrailError as failure:
        print(f"safedeploy {command}: failed: {failure}", file=sys.stderr)
        return ExitCode.ROLLED_BACK


def _manifest(args: argparse.Namespace) -> ReleaseManifest | None:
    if not args.release_file:
        return None
    if not args.source_env:
        raise CliError(
            "--source-env is required with --release-file (or set SAFEDEPLOY_SOURCE_ENV): the environment whose "
            "approval records vouch for the release"
        )
    try:
        return ReleaseManifest.from_json(args.release_file.read_text())
    except OSError as error:
        raise CliError(f"cannot read {args.release_file}: {error.strerror}") from None


def run_deploy(args: argparse.Namespace) -> int:
    project, env = environment(args)
    manifest = _manifest(args)
    package_arn = manifest.model_package_arn if manifest else require_package_arn(args.package_arn)
    session = aws_session(args)
    sm, s3 = session.client("sagemaker"), session.client("s3")

    def deploy() -> Summarised:
        ssm = session.client("ssm")
        target = DeployTarget.load(ssm, project, env, s3=s3)
        model_data_url = None
        if manifest is None:
            deployable = _verified_here(sm, s3, ssm, project, env, package_arn)
        else:
            owner = args.source_env
            records = RecordStore(s3, read_parameter(ssm, project, owner, Param.ARTIFACTS_BUCKET))
            group = read_parameter(ssm, project, owner, Param.MODEL_PACKAGE_GROUP)
            deployable = verify_promoted(sm, manifest, group=group, records=records)
            own = OwnBucket(
                read_parameter(ssm, project, env, Param.ARTIFACTS_BUCKET),
                read_parameter(ssm, project, env, Param.KMS_KEY_ARN),
            )
            baseline = registry.drift_baseline_source(sm, deployable.evidence.package_arn)
            model_data_url = take_ownership(s3, deployable, own, baseline)  # deploy_package checks it is served here
            _say(f"model artifact copied to {model_data_url} and verified")
        _say(_verified_line(deployable))
        timeout = deployment_timeout_seconds(target.guardrails.settings)
        waiter = EndpointWaiter(sm, poll_seconds=args.poll_seconds, timeout_seconds=timeout, progress=_say)
        _say(f"deploying {package_arn} to {target.endpoint_name} ({target.guardrails.settings.strategy.name})")
        return deploy_package(
            sm,
            package_arn,
            target,
            waiter,
            aas=session.client("application-autoscaling"),
            allow_rolled_back=args.allow_rolled_back,
            model_data_url=model_data_url,
        )

    return _report("deploy", deploy)


def _verified_here(sm: Any, s3: Any, ssm: Any, project: str, env: str, package_arn: str) -> Deployable:
    """A package of this environment's own group, approved here, whose artifact still has its recorded digest."""
    records = RecordStore(s3, read_parameter(ssm, project, env, Param.ARTIFACTS_BUCKET))
    group = read_parameter(ssm, project, env, Param.MODEL_PACKAGE_GROUP)
    deployable = verify_package(sm, package_arn, group=group, records=records)
    # Before hashing it (deploy_package refuses it too, for every caller): a URL elsewhere is not read at all.
    require_served_here(deployable.evidence.model_data_url, records.bucket)
    verify_bytes(s3, deployable.evidence.model_data_url, deployable.evidence.model_sha256, "model artifact")
    return deployable


def _verified_line(deployable: Deployable) -> str:
    record, evidence = deployable.record, deployable.evidence
    return (
        f"verified {record.package_arn}: approved by {record.approver} in execution {record.pipeline_execution_id}, "
        f"commit {evidence.source_commit[:12]}, model sha256 {evidence.model_sha256[:12]}, "
        f"tooling sha256 {evidence.tooling_sha256[:12]}"
    )


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
            marks=RolledBackMarks(session.client("s3"), read_parameter(ssm, project, env, Param.ARTIFACTS_BUCKET)),
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
        ssm = session.client("ssm")
        endpoint_name = read_parameter(ssm, project, env, Param.ENDPOINT_NAME)
        contract = ServingContract.from_json(read_parameter(ssm, project, env, Param.SERVING_CONTRACT))
        return smoke_test(
            session.client("sagemaker"), session.client("sagemaker-runtime"), endpoint_name, contract, args.body
        )

    return _report("smoke-test", check)
