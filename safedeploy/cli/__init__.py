"""`safedeploy` console script: one sub-command module per concern, each adding its parsers.

A module in ``COMMAND_MODULES`` exposes ``register(subparsers)``; each parser it adds sets ``func`` to a callable
taking the parsed arguments and returning the process exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from importlib import metadata
from typing import NoReturn

from safedeploy.cli.aws_errors import AWS_FAILURES, AwsError
from safedeploy.cli.exit_codes import ExitCode
from safedeploy.errors import ConfigError, InputError, SafeDeployError

DESCRIPTION = """Operate the safe-deployment platform: release status and approvals, deployments with guardrails,
rollback, canary statistics, cost and teardown of an environment. Run from the repository, --project comes from
cdk.json; --env names the environment (dev, staging, prod). `safedeploy COMMAND --help` explains each command."""
COMMAND_MODULES: tuple[str, ...] = (
    "deploy_commands",
    "ops_commands",
    "stats_commands",
    "doctor_commands",
    "gateway_commands",
    "environment_commands",
    "config_commands",
    "report_commands",
    "drift_commands",
)


class CliError(SafeDeployError):
    """A problem the user can fix; printed as one line, exit code 2 (`ExitCode.BAD_INPUT`)."""


class OneLineParser(argparse.ArgumentParser):
    """Usage mistakes are reported like every other bad input: one line, exit 2 (argparse prints the usage too).
    Sub-command parsers are of the same class (argparse creates them with the parent's)."""

    def error(self, message: str) -> NoReturn:
        self.exit(ExitCode.BAD_INPUT, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="safedeploy", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module_name in COMMAND_MODULES:
        importlib.import_module(f"safedeploy.cli.{module_name}").register(subparsers)
    return parser


def _version() -> str:
    try:
        return metadata.version("safedeploy")
    except metadata.PackageNotFoundError:
        return "unknown (not installed; run `make synth` or `pip install -e .`)"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    # The platform's refusals of what the operator handed in, and the standard library's ValueErrors of parsing it
    # (a JSON file or a number that is not one).
    except (CliError, ConfigError, InputError, ValueError) as error:
        print(f"safedeploy {args.command}: error: {error}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    except RecursionError:  # Python's JSON parser recurses per level: a file of 100,000 "[" (analyze, release.json)
        print(f"safedeploy {args.command}: error: the input nests arrays or objects too deeply", file=sys.stderr)
        return ExitCode.BAD_INPUT
    except AWS_FAILURES as error:
        failure = AwsError(error)
        print(f"safedeploy {args.command}: AWS error: {failure}", file=sys.stderr)
        return failure.exit_code
