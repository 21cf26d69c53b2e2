"""`safedeploy teardown`: remove an environment's endpoint, configs, models and autoscaling, then its stacks."""

from __future__ import annotations

import argparse
from typing import Any

from safedeploy.cli.aws_session import add_environment_arguments, environment, session
from safedeploy.operations.teardown import Teardown


def register(subparsers: Any) -> None:
    teardown = subparsers.add_parser(
        "teardown",
        help="delete an environment: endpoint, configs, models, autoscaling, then its stacks",
        description="Delete what the deploys created outside CloudFormation (autoscaling, the endpoint, its endpoint "
        "configs and models), then the environment's stacks, newest first, with progress; list what CloudFormation "
        "retains (buckets, key, registry) at the end. Production, or any stack with termination protection, needs "
        "--confirm-production.",
    )
    add_environment_arguments(teardown)
    teardown.add_argument(
        "--confirm-production",
        action="store_true",
        help="allow deleting prod (turns off the stacks' termination protection)",
    )
    teardown.add_argument("--poll-seconds", type=float, default=10.0, help="status poll interval (default: 10)")
    teardown.set_defaults(func=run_teardown)


def run_teardown(args: argparse.Namespace) -> int:
    project, env = environment(args)
    work = Teardown(session(args).client, project, env, poll_seconds=args.poll_seconds)
    report = work.run(confirm_production=args.confirm_production)
    print(report.summary())
    return 0
