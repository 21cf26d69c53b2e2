"""`safedeploy config show`: an environment's effective configuration, every default filled in, read from cdk.json
with the models synth uses (cdk.json states only what differs from the defaults)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from safedeploy.cli import CliError
from safedeploy.cli.aws_session import CONFIG_FILE
from safedeploy.environment_config import AppConfig, load_config


def register(subparsers: Any) -> None:
    config = subparsers.add_parser(
        "config",
        help="an environment's effective configuration (cdk.json with every default filled in)",
        description="Read cdk.json as the CDK app does and print an environment's configuration: every section, "
        "with the defaults the keys cdk.json leaves out take. Offline: no AWS call.",
    )
    actions = config.add_subparsers(dest="action", required=True)
    show = actions.add_parser("show", help="print the effective values as JSON")
    show.add_argument("--env", required=True, help="environment in cdk.json, e.g. dev")
    show.add_argument("--config", default=str(CONFIG_FILE), help="cdk.json to read (default: %(default)s)")
    show.set_defaults(func=run_show)


def effective(config: AppConfig, env: str) -> dict[str, Any]:
    """The project, the environment's sections and the model section, as the stacks and the Lambdas see them."""
    if env not in config.environments:
        raise CliError(f"--env {env!r} is not in cdk.json ({', '.join(config.environments)})")
    return {
        "project": config.project,
        "environment": config.environments[env].model_dump(mode="json"),
        "model": config.model.model_dump(mode="json"),
    }


def read_context(path: Path | str) -> dict[str, Any]:
    """cdk.json's `context`, or one line saying why the file cannot be read."""
    try:
        return dict(json.loads(Path(path).read_text()).get("context", {}))
    except (OSError, ValueError, AttributeError, TypeError) as error:
        raise CliError(f"cannot read {path}: {error}") from None


def read_config(path: Path | str) -> AppConfig:
    """cdk.json's configuration, validated as synth validates it (no AWS call)."""
    return load_config(read_context(path))


def run_show(args: argparse.Namespace) -> int:
    print(json.dumps(effective(read_config(args.config), args.env), indent=2))
    return 0
