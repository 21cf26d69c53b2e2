"""The CDK app: one Stage per environment in `cdk.json` context, every Stage behind the cdk-nag gate."""

from __future__ import annotations

import sys

import infra  # noqa: F401  (first: it explains jsii's Node.js banner before aws_cdk starts the runtime)

# isort: split
from aws_cdk import App

from infra.config import AppConfig, ConfigError, load_config
from infra.nag import enable_security_checks
from stacks.stage import EnvironmentStage


def build_app(app: App) -> dict[str, EnvironmentStage]:
    """Add every configured environment to `app`; raises ConfigError for a configuration that cannot be built."""
    config = load_config(_context(app))
    enable_security_checks(app)
    for line in traffic_shares(config):
        print(line, file=sys.stderr)
    return {
        name: EnvironmentStage(app, project=config.project, env_config=env_config, model=config.model)
        for name, env_config in config.environments.items()
    }


def traffic_shares(config: AppConfig) -> list[str]:
    """The candidate's real traffic share in each environment: whole instances, not the percentage asked for."""
    return [f"{name}: {env.endpoint.traffic_share().describe()}" for name, env in config.environments.items()]


def _context(app: App) -> dict:
    """The keys the configuration reads; CDK's own feature flags stay out of it."""
    keys = ("project", "environments", "model")
    return {key: app.node.try_get_context(key) for key in keys if app.node.try_get_context(key) is not None}


def main() -> None:
    app = App()
    try:
        build_app(app)
    except ConfigError as error:
        print(f"cdk.json: {error}", file=sys.stderr)
        sys.exit(1)
    app.synth()


if __name__ == "__main__":
    main()
