"""`safedeploy api-key create / revoke`: callers of the inference gateway, managed by the operator."""

from __future__ import annotations

import argparse
from typing import Any

from botocore.exceptions import ClientError

from safedeploy.cli import CliError
from safedeploy.cli.aws_session import add_environment_arguments, environment, session
from safedeploy.cli.number_arguments import whole_number_in
from safedeploy.guardrails.deploy_target import read_parameter
from safedeploy.operations.api_keys import MAX_KEY_LIFETIME_DAYS, SCOPES, issue_key, revoke_key
from safedeploy.parameters import Param


def register(subparsers: Any) -> None:
    api_key = subparsers.add_parser("api-key", help="issue or revoke API keys of the inference gateway")
    actions = api_key.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="issue a key (printed once; only its SHA-256 is stored)")
    add_environment_arguments(create)
    create.add_argument("--name", required=True, help="whom the key is for (an application, a labelling job)")
    create.add_argument(
        "--scope", action="append", choices=SCOPES, required=True, help="predict and/or feedback (repeatable)"
    )
    create.add_argument(
        "--expires-in-days",
        type=whole_number_in(1, MAX_KEY_LIFETIME_DAYS),
        help=f"1-{MAX_KEY_LIFETIME_DAYS} (default: no expiry)",
    )
    create.set_defaults(func=run_create)
    revoke = actions.add_parser("revoke", help="revoke a key by its id (the second part of the key)")
    add_environment_arguments(revoke)
    revoke.add_argument("key_id", metavar="KEY_ID")
    revoke.set_defaults(func=run_revoke)


def _table(args: argparse.Namespace) -> tuple[Any, str]:
    project, env = environment(args)
    aws = session(args)
    return aws.client("dynamodb"), read_parameter(aws.client("ssm"), project, env, Param.GATEWAY_API_KEYS_TABLE)


def run_create(args: argparse.Namespace) -> int:
    dynamodb, table = _table(args)
    print(issue_key(dynamodb, table, args.name, tuple(args.scope), args.expires_in_days).summary())
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    dynamodb, table = _table(args)
    try:
        revoke_key(dynamodb, table, args.key_id)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            raise CliError(f"no API key {args.key_id} in {table}") from None
        raise
    print(f"revoked {args.key_id}; gateways refuse it within their key cache time (API_KEY_CACHE_SECONDS)")
    return 0
