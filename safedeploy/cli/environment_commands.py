"""`safedeploy cost` and `teardown`: what an environment costs per month, and removing it with what it created."""

from __future__ import annotations

import argparse
import json
from typing import Any

from safedeploy.cli.aws_session import CONFIG_FILE, add_environment_arguments, environment, session
from safedeploy.cli.config_commands import read_context
from safedeploy.cli.number_arguments import MAX_POLL_SECONDS, number_in
from safedeploy.operations.cost import estimate_from_config
from safedeploy.operations.teardown import Teardown


def register(subparsers: Any) -> None:
    cost = subparsers.add_parser(
        "cost",
        help="monthly cost estimate of an environment, from cdk.json",
        description="Estimate what an environment costs per month while it runs (endpoint instances, NAT gateways, "
        "load balancer, Fargate tasks, Lambda, logs), from its cdk.json configuration and a dated price table of its "
        "region. Offline: no AWS call.",
    )
    cost.add_argument("--env", required=True, help="environment in cdk.json, e.g. dev")
    cost.add_argument("--config", default=str(CONFIG_FILE), help="cdk.json to read (default: %(default)s)")
    cost.add_argument("--json", action="store_true", help="machine-readable output")
    cost.set_defaults(func=run_cost)

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
    teardown.add_argument(
        "--poll-seconds",
        type=number_in(0, MAX_POLL_SECONDS),
        default=10.0,
        help=f"status poll interval, 0-{MAX_POLL_SECONDS} (default: 10)",
    )
    teardown.set_defaults(func=run_teardown)


def run_teardown(args: argparse.Namespace) -> int:
    project, env = environment(args)
    work = Teardown(session(args).client, project, env, poll_seconds=args.poll_seconds)
    report = work.run(confirm_production=args.confirm_production)
    print(report.summary())
    return 0


def _cents(amount: float | None) -> float | None:
    return None if amount is None else round(amount, 2)


def run_cost(args: argparse.Namespace) -> int:
    result = estimate_from_config(read_context(args.config), args.env)
    if args.json:
        lines = [
            {"item": line.item, "quantity": line.quantity, "monthly": _cents(line.monthly)} for line in result.lines
        ]
        document = {
            "env": args.env,
            "currency": result.table.currency or None,
            "region": result.table.region,
            "as_of": result.table.as_of or None,
            "total": _cents(result.total),  # null: no price table for the region
            "lines": lines,
        }
        print(json.dumps(document, indent=2))
    else:
        print(result.render())
    return 0
