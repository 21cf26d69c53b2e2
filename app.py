"""The CDK app: one Stage per environment in `cdk.json` context, every Stage behind the cdk-nag gate."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import infra  # noqa: F401  (first: it explains jsii's Node.js banner before aws_cdk starts the runtime)

# isort: split
from aws_cdk import App
from aws_cdk.cx_api import CloudAssembly, SynthesisMessageLevel

from infra.nag import enable_security_checks
from infra.name_limits import check_name_lengths
from safedeploy.environment_config import AppConfig, load_config
from safedeploy.errors import BuildError, ConfigError
from safedeploy.guardrails.bake import bake_report
from stacks.stage import EnvironmentStage


def build_app(app: App) -> dict[str, EnvironmentStage]:
    """Add every configured environment to `app`; raises ConfigError for a configuration that cannot be built."""
    config = load_config(_context(app))
    enable_security_checks(app)
    for line in [*traffic_shares(config), *bake_reports(config)]:
        print(line, file=sys.stderr)
    stages = {
        name: EnvironmentStage(app, project=config.project, env_config=env_config, model=config.model)
        for name, env_config in config.environments.items()
    }
    for name, stage in stages.items():
        check_name_lengths(
            stage, f"environments.{name}", endpoint_name=stage.naming.endpoint, region=config.environments[name].region
        )
    return stages


def traffic_shares(config: AppConfig) -> list[str]:
    """The candidate's real traffic share in each environment: whole instances, not the percentage asked for."""
    return [f"{name}: {env.endpoint.traffic_share().describe()}" for name, env in config.environments.items()]


def bake_reports(config: AppConfig) -> list[str]:
    """Each planned bake with the power it reaches per metric, and a warning where `require_power: false` let a bake
    through that stays below the declared power."""
    return [
        line
        for name, env in config.environments.items()
        if env.endpoint.strategy.step is not None and env.endpoint.traffic_share().first < 1.0
        for line in bake_report(name, env.endpoint)
    ]


def synthesis_warnings(assembly: CloudAssembly) -> list[str]:
    """The warnings constructs add (e.g. dev's plain-HTTP listener): the CLI prints none of a Stage's stacks."""
    return [
        f"warning: {stack.hierarchical_id}: {message.entry.data}"
        for stack in assembly.stacks_recursively
        for message in stack.messages
        if message.level == SynthesisMessageLevel.WARNING
    ]


CONFIG_KEYS = ("project", "environments", "model")


def _context(app: App) -> dict:
    """The keys the configuration reads; CDK's own feature flags stay out of it.

    Context read back through jsii has lost every key whose value is null, which would turn `endpoint: null` into a
    missing section (defaults) instead of the error it is. So where the app's value is the CLI's context JSON less
    its nulls, the JSON is used as written; a value set after the CLI's (`post_cli_context`) is used as it is.
    """
    given = cli_context()
    context = {}
    for key in CONFIG_KEYS:
        value = app.node.try_get_context(key)
        if key in given and _without_nulls(given[key]) == value:
            value = given[key]
        if value is not None:
            context[key] = value
    return context


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


def cli_context() -> dict[str, Any]:
    """The CLI's context as JSON: `CDK_CONTEXT_JSON`, or the file `CONTEXT_OVERFLOW_LOCATION_ENV` names when the
    context is too large for the environment (aws-cdk-lib's `App.loadContext` reads the same two)."""
    context: dict[str, Any] = json.loads(os.environ.get("CDK_CONTEXT_JSON") or "{}")
    if overflow := os.environ.get("CONTEXT_OVERFLOW_LOCATION_ENV"):
        context.update(json.loads(Path(overflow).read_text()))
    return context


def main() -> None:
    app = App()
    try:
        build_app(app)
    except ConfigError as error:
        print(f"cdk.json: {error}", file=sys.stderr)
        sys.exit(1)
    except BuildError as error:  # e.g. the Lambda layer's wheels with no package index to install them from
        print(error, file=sys.stderr)
        sys.exit(1)
    for line in synthesis_warnings(app.synth()):
        print(line, file=sys.stderr)


if __name__ == "__main__":
    main()
