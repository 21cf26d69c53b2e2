"""`safedeploy status`, `approve`, `reject` and `retry-stage`: the playbook's manual checks and console clicks."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from safedeploy.cli.aws_session import add_environment_arguments, environment, session
from safedeploy.guardrails.deploy_target import read_parameter
from safedeploy.operations.pipeline_actions import ApprovalGiven, StageRetried, decide, retry_stage
from safedeploy.operations.status import environment_status
from safedeploy.parameters import Param


def register(subparsers: Any) -> None:
    status = subparsers.add_parser(
        "status",
        help="pipeline, pending approvals, endpoint and last canary verdict",
        description="Show the environment's pipeline stages, pending approvals (candidate metrics beside the live "
        "model's), the endpoint's config, package version and traffic split, and the last canary decision.",
    )
    _add_common_arguments(status)
    status.set_defaults(func=run_status)

    for name, decision in (("approve", "Approved"), ("reject", "Rejected")):
        parser = subparsers.add_parser(
            name,
            help=f"{name} the approval the pipeline is waiting for",
            description=f"{name.capitalize()} the manual approval the pipeline is waiting for, with your comment; "
            "your identity is recorded on the model package (the console's Review button does the same).",
        )
        _add_common_arguments(parser)
        parser.add_argument("--comment", required=True, help="why; recorded on the model package")
        parser.add_argument("--stage", help="the approval stage, when several are waiting")
        parser.set_defaults(func=run_decision, decision=decision)

    retry = subparsers.add_parser(
        "retry-stage",
        help="retry the failed actions of a pipeline stage",
        description="Retry the failed actions of NAME in the latest pipeline execution (the console's Retry Stage).",
    )
    _add_common_arguments(retry)
    retry.add_argument("stage", metavar="NAME", help="stage name, e.g. Train or Deploy")
    retry.set_defaults(func=run_retry)


def _add_common_arguments(parser: argparse.ArgumentParser) -> None:
    add_environment_arguments(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable output, for scripts")


def _print(args: argparse.Namespace, result: ApprovalGiven | StageRetried) -> None:
    print(json.dumps(asdict(result)) if args.json else result.summary())


def _pipeline_name(args: argparse.Namespace) -> tuple[Any, str]:
    project, env = environment(args)
    aws = session(args)
    return aws, read_parameter(aws.client("ssm"), project, env, Param.PIPELINE_NAME)


def run_status(args: argparse.Namespace) -> int:
    project, env = environment(args)
    report = environment_status(session(args).client, project, env)
    print(json.dumps(report, indent=2, default=str) if args.json else render(report))
    return 0


def run_decision(args: argparse.Namespace) -> int:
    aws, pipeline = _pipeline_name(args)
    _print(args, decide(aws.client("codepipeline"), pipeline, args.decision, args.comment, args.stage))
    return 0


def run_retry(args: argparse.Namespace) -> int:
    aws, pipeline = _pipeline_name(args)
    _print(args, retry_stage(aws.client("codepipeline"), pipeline, args.stage))
    return 0


def _metrics_line(summary: dict[str, Any] | None) -> str:
    if not summary:
        return "none"
    metrics = ", ".join(f"{name} {value:.4f}" for name, value in sorted(summary["metrics"].items()))
    return f"version {summary['version']} ({summary['status']}): {metrics or 'no metrics'}"


def render(report: dict[str, Any]) -> str:
    pipeline, endpoint = report["pipeline"], report["endpoint"]
    lines = [f"{report['project']}/{report['env']}", f"pipeline {pipeline['name']}"]
    lines += [f"  {stage['name']:<16} {stage['status']}" for stage in pipeline["stages"]]
    lines.append(f"  running: {', '.join(pipeline['running_executions']) or 'none'}")
    for approval in pipeline["pending_approvals"]:
        lines.append(f"  waiting for approval: {approval['stage']}/{approval['action']}")
        lines.append(f"    candidate  {_metrics_line(approval['candidate'])}")
        lines.append(f"    live model {_metrics_line(approval['live'])}")
    lines.append(f"endpoint {endpoint['name']}: {endpoint['status']}")
    if endpoint["status"] != "NotFound":
        lines.append(f"  config {endpoint['config']}, package version {endpoint['package_version'] or 'unknown'}")
        split = ", ".join(f"{name} {share:g}%" for name, share in endpoint["traffic_percent"].items())
        lines.append(f"  traffic: {split}" + (f"; deploying {endpoint['deploying']}" if endpoint["deploying"] else ""))
    decision = report["last_canary_decision"]
    lines.append(
        f"last canary decision: {decision['decision']} at {decision['at']}" if decision else "no canary decision yet"
    )
    return "\n".join(lines)
