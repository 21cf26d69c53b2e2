"""`safedeploy doctor`: the account-side checks of `safedeploy.operations.doctor`, one line each.

The caller's identity is read first (STS), so missing or expired credentials or a missing region end the command
with their own exit code instead of failing every check.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from safedeploy.cli.aws_errors import one_line
from safedeploy.cli.aws_session import add_environment_arguments, environment, session
from safedeploy.cli.exit_codes import ExitCode
from safedeploy.operations.doctor import DEFAULT_QUALIFIER, DoctorScope, Status, run_checks


def register(subparsers: Any) -> None:
    doctor = subparsers.add_parser(
        "doctor",
        help="read-only checks of what only the account can confirm",
        description="Check, read-only, what the documentation and the tests cannot: CDK bootstrap, the rollback "
        "alarms the deployment config names, the canary Lambda's runtime and recent invocations, the per-fleet "
        "EndpointConfigName series after a deployment, the pipeline's source, the drift job, and what the last "
        "acceptance run observed of each undocumented AWS behaviour. One line per check; exit 7 when any fails.",
    )
    add_environment_arguments(doctor)
    doctor.add_argument("--qualifier", default=DEFAULT_QUALIFIER, help="CDK bootstrap qualifier (default: %(default)s)")
    doctor.add_argument("--json", action="store_true", help="machine-readable output, for scripts")
    doctor.set_defaults(func=run_doctor)


def _describe(error: Exception) -> str:
    return one_line(error) if isinstance(error, BotoCoreError | ClientError) else str(error)


def run_doctor(args: argparse.Namespace) -> int:
    project, env = environment(args)
    aws = session(args)
    identity = aws.client("sts").get_caller_identity()
    scope = DoctorScope(client=aws.client, project=project, env=env, now=datetime.now(UTC), qualifier=args.qualifier)
    results = run_checks(scope, _describe)
    if args.json:
        checks = [{**asdict(result), "status": result.status.value} for result in results]
        print(json.dumps({"account": identity["Account"], "region": aws.region_name, "checks": checks}))
    else:
        print(f"{project}/{env} in account {identity['Account']}, region {aws.region_name}")
        for result in results:
            print(result.line(), flush=True)
    failed = any(result.status is Status.FAIL for result in results)
    return ExitCode.CHECKS_FAILED if failed else ExitCode.OK
