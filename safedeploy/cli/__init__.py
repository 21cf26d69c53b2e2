"""`safedeploy` console script: one sub-command module per concern, each adding its parsers.

A module in ``COMMAND_MODULES`` exposes ``register(subparsers)``; each parser it adds sets ``func`` to a callable
taking the parsed arguments and returning the process exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from botocore.exceptions import BotoCoreError, ClientError

from safedeploy.cli.aws_errors import one_line

COMMAND_MODULES: tuple[str, ...] = ("deploy_commands", "ops_commands", "stats_commands", "drift_commands")
EXIT_AWS_ERROR = 4


class CliError(Exception):
    """A problem the user can fix; printed as one line, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="safedeploy", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module_name in COMMAND_MODULES:
        importlib.import_module(f"safedeploy.cli.{module_name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (CliError, ValueError) as error:
        print(f"safedeploy {args.command}: error: {error}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError) as error:
        print(f"safedeploy {args.command}: AWS error: {one_line(error)}", file=sys.stderr)
        return EXIT_AWS_ERROR
