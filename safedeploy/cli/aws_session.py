"""The options every AWS-facing sub-command shares: which environment, and which AWS profile and region.

The region follows the AWS SDKs' order: `--region`, then `AWS_REGION` (which CodeBuild and Lambda set, and boto3
alone does not read), then `AWS_DEFAULT_REGION` and the profile's `region` (which boto3 reads itself).
"""

from __future__ import annotations

import argparse
import os

import boto3

from safedeploy.cli import CliError


def add_environment_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project", default=os.environ.get("SAFEDEPLOY_PROJECT"), help="default: SAFEDEPLOY_PROJECT")
    parser.add_argument("--env", default=os.environ.get("SAFEDEPLOY_ENV"), help="default: SAFEDEPLOY_ENV")
    parser.add_argument("--profile", help="AWS profile (default: the usual credential chain)")
    parser.add_argument(
        "--region", help="AWS region (default: AWS_REGION, then AWS_DEFAULT_REGION, then the profile's region)"
    )


def environment(args: argparse.Namespace) -> tuple[str, str]:
    for option, variable in (("project", "SAFEDEPLOY_PROJECT"), ("env", "SAFEDEPLOY_ENV")):
        if not getattr(args, option):
            raise CliError(f"--{option} is required (or set {variable})")
    return args.project, args.env


def session(args: argparse.Namespace) -> boto3.session.Session:
    """A missing profile raises botocore's ProfileNotFound: a credentials problem, with its own exit code."""
    region = args.region or os.environ.get("AWS_REGION") or None
    return boto3.session.Session(profile_name=args.profile, region_name=region)
