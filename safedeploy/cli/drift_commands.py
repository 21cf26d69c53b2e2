"""`safedeploy drift`: the latest drift check of an environment's live model, one line per column."""

from __future__ import annotations

import argparse
import json
from typing import Any

from safedeploy.cli.aws_session import add_environment_arguments, environment, session
from safedeploy.drift.store import latest_record
from safedeploy.guardrails.deploy_target import read_parameter
from safedeploy.parameters import Param


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "drift",
        help="the latest drift check: PSI, p-value and verdict per feature and for the prediction score",
        description="Print the newest drift decision record of the environment's endpoint.",
    )
    add_environment_arguments(parser)
    parser.add_argument("--json", action="store_true", help="the whole decision record, for scripts")
    parser.set_defaults(func=run_drift)


def run_drift(args: argparse.Namespace) -> int:
    project, env = environment(args)
    ssm = session(args).client("ssm")
    bucket = read_parameter(ssm, project, env, Param.ARTIFACTS_BUCKET)
    endpoint = read_parameter(ssm, project, env, Param.ENDPOINT_NAME)
    record = latest_record(session(args).client("s3"), bucket, endpoint)
    if record is None:
        print(f"no drift check of {endpoint} yet (the job runs on its schedule once a model with a baseline serves)")
        return 0
    print(json.dumps(record, indent=2) if args.json else render(record))
    return 0


def render(record: dict[str, Any]) -> str:
    drifted = record.get("drifted") or []
    lines = [
        f"{record['package_arn']}: hour {record['checked_at']}, look {record['look']} of {record['period_looks']}, "
        f"alpha {record['alpha']} per period: " + (f"DRIFT in {', '.join(drifted)}" if drifted else "stable"),
        f"{'column':<20} {'rows':>8} {'PSI':>8} {'band':<9} {'p-value':>8}  verdict",
    ]
    for column in record["columns"]:
        lines.append(
            f"{column['name']:<20} {column['rows']:>8} {column['psi']:>8.4f} {column['psi_band']:<9} "
            f"{column['p_value']:>8.4f}  {column['verdict']}"
        )
    return "\n".join(lines)
