"""The options every AWS-facing sub-command shares: which environment, and which AWS profile and region."""

from __future__ import annotations

import argparse
import os

import boto3
from botocore.exceptions import ProfileNotFound

from safedeploy.cli import CliError


def add_environment_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project", default=os.environ.get("SAFEDEPLOY_PROJECT"), help="default: SAFEDEPLOY_PROJECT")
    parser.add_argument("--env", default=os.environ.get("SAFEDEPLOY_ENV"), help="default: SAFEDEPLOY_ENV")
    parser.add_argument("--profile", help="AWS profile (default: the usual credential chain)")
    parser.add_argument("--region", help="AWS region (default: the profile's or AWS_REGION)")


def environment(args: argparse.Namespace) -> tuple[str, str]:
    for option, variable in (("project", "SAFEDEPLOY_PROJECT"), ("env", "SAFEDEPLOY_ENV")):
        if not getattr(args, option):
            raise CliError(f"--{option} is required (or set {variable})")
    return args.project, args.env


def session(args: argparse.Namespace) -> boto3.session.Session:
    try:
        return boto3.session.Session(profile_name=args.profile, region_name=args.region)
    except ProfileNotFound:
        raise CliError(f"AWS profile {args.profile!r} not found in the AWS config files") from None
