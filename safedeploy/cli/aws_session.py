"""The options every AWS-facing sub-command shares: which environment, and which AWS profile and region.

The region is `--region`, then the environment's `region` in the cdk.json of the current directory (where synth put
its resources), then the AWS SDKs' order: `AWS_REGION` (which CodeBuild and Lambda set, and boto3 alone does not
read), then `AWS_DEFAULT_REGION` and the profile's `region` (which boto3 reads itself).
`--project` defaults to SAFEDEPLOY_PROJECT, else to `context.project` of the cdk.json in the current directory (the
project's own checkout), so operators in the repository never type it.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError

from safedeploy.cli import CliError
from safedeploy.environment_config import EnvironmentConfig

CONFIG_FILE = Path("cdk.json")


def _context() -> dict[str, Any]:
    """The current directory's cdk.json context; empty when there is none or it cannot be read."""
    try:
        context = json.loads(CONFIG_FILE.read_text()).get("context", {})
    except (OSError, ValueError, AttributeError):
        return {}
    return context if isinstance(context, dict) else {}


def default_project() -> str | None:
    if os.environ.get("SAFEDEPLOY_PROJECT"):
        return os.environ["SAFEDEPLOY_PROJECT"]
    project = _context().get("project")
    return project if isinstance(project, str) and project else None


def configured_region(env: str | None) -> str | None:
    """The region cdk.json gives environment `env` (its default when the environment names none); None when the
    current directory's cdk.json does not describe `env`."""
    environments = _context().get("environments")
    if not env or not isinstance(environments, dict) or not isinstance(environments.get(env), dict):
        return None
    region = environments[env].get("region", EnvironmentConfig.model_fields["region"].default)
    return region if isinstance(region, str) and region else None


def add_environment_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--project", default=default_project(), help="default: SAFEDEPLOY_PROJECT, else cdk.json's project"
    )
    parser.add_argument("--env", default=os.environ.get("SAFEDEPLOY_ENV"), help="default: SAFEDEPLOY_ENV")
    parser.add_argument("--profile", help="AWS profile (default: the usual credential chain)")
    parser.add_argument(
        "--region",
        help="AWS region (default: the environment's region in cdk.json, then AWS_REGION, then AWS_DEFAULT_REGION, "
        "then the profile's region)",
    )


def environment(args: argparse.Namespace) -> tuple[str, str]:
    for option, variable in (("project", "SAFEDEPLOY_PROJECT"), ("env", "SAFEDEPLOY_ENV")):
        if not getattr(args, option):
            where = f"set {variable}" + (
                " or run from the project's directory (cdk.json)" if option == "project" else ""
            )
            raise CliError(f"--{option} is required (or {where})")
    return args.project, args.env


class ForeignResponse(BotoCoreError):
    """Something other than AWS answered (a proxy, a captive portal, a wrong AWS_ENDPOINT_URL): an HTML page."""

    fmt = "{operation}: the answer is an HTML page (HTTP {status}), not AWS's: check AWS_ENDPOINT_URL, proxy, --region"


def session(args: argparse.Namespace) -> boto3.session.Session:
    """A missing profile raises botocore's ProfileNotFound: a credentials problem, with its own exit code."""
    region = args.region or configured_region(getattr(args, "env", None)) or os.environ.get("AWS_REGION") or None
    aws = boto3.session.Session(profile_name=args.profile, region_name=region)
    aws.events.register("before-parse", refuse_foreign_responses)
    return aws


def refuse_foreign_responses(operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
    """AWS APIs answer JSON or XML; a page of HTML would otherwise reach the user as six lines, or a KeyError."""
    body = response_dict.get("body") or b""
    start = (body[:256] if isinstance(body, bytes) else b"").lstrip().lower()
    # The page itself, not only its content type: an empty HEAD 404 may carry text/html and still be AWS's answer.
    if start.startswith((b"<!doctype html", b"<html")):
        raise ForeignResponse(operation=operation_model.name, status=response_dict.get("status_code"))
