"""`safedeploy report ENDPOINT`: the canary decision timeline of a deployment, as PNG and HTML files."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from safedeploy.canary.report import load_timeline, write_report
from safedeploy.cli.aws_session import add_environment_arguments, environment, session
from safedeploy.guardrails.deploy_target import read_parameter
from safedeploy.parameters import Param


def register(subparsers: Any) -> None:
    report = subparsers.add_parser(
        "report",
        help="picture of a deployment's canary decisions (PNG and HTML)",
        description="Draw the canary analysis of one deployment from its decision records: per metric the harm "
        "statistic against its boundary each minute, the requests each fleet served, and markers for verdicts, the "
        "CanaryVerdict alarm and rollbacks. Writes <endpoint>-<deployment>.png and .html.",
    )
    report.add_argument("endpoint", help="endpoint name, e.g. my-mlops-dev-endpoint")
    report.add_argument("--deployment", help="deployment id (the candidate's endpoint config; default: the latest)")
    report.add_argument("--output", type=Path, default=Path("."), help="directory for the files (default: .)")
    add_environment_arguments(report)
    report.set_defaults(func=run_report)


def run_report(args: argparse.Namespace) -> int:
    project, env = environment(args)
    aws = session(args)
    bucket = read_parameter(aws.client("ssm"), project, env, Param.ARTIFACTS_BUCKET)
    serving = serving_config(aws.client("sagemaker"), args.endpoint)
    timeline = load_timeline(aws.client("s3"), bucket, args.endpoint, args.deployment, serving)
    png, page = write_report(timeline, args.output)
    print(
        f"{timeline.endpoint_name} / {timeline.deployment_id}: {len(timeline.minutes)} analyses, {timeline.outcome}; "
        f"wrote {png} and {page}"
    )
    return 0


def serving_config(sm: Any, endpoint_name: str) -> str | None:
    """The endpoint configuration in service, once no update is under way; None while one is, or without the
    endpoint (deleted), so the newest deployment's outcome stays open rather than guessed."""
    try:
        endpoint = sm.describe_endpoint(EndpointName=endpoint_name)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ValidationException":  # SageMaker's "could not find"
            raise
        return None
    return endpoint["EndpointConfigName"] if endpoint["EndpointStatus"] == "InService" else None
