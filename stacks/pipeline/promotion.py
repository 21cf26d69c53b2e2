"""Which environment a pipeline promotes to and which one it takes approved packages from.

An environment that another one promotes to never retrains: its pipeline deploys the package named in the
`release.json` the other environment's Promote action commits, and may itself promote that same package onward
(dev -> staging -> prod). Both ends live in different Stages, which CDK forbids
to reference each other, so each side derives the other's repository and branch from the validated configuration
instead of from a construct.
"""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct

from safedeploy.environment_config import AppConfig, EnvironmentConfig, load_config
from safedeploy.errors import ConfigError
from safedeploy.naming import Naming


@dataclass(frozen=True)
class PromotionLinks:
    """`target`: where this environment's Promote commits; `source`: who promotes to it; `origin`: the head of its
    chain, which trained the packages and whose registry and artifacts every later environment reads."""

    target: EnvironmentConfig | None
    source: EnvironmentConfig | None
    origin: EnvironmentConfig

    @property
    def trains(self) -> bool:
        return self.source is None


def repository_name(project: str, env: str) -> str:
    """Each environment's CodeCommit repository is `<project>-<env>`, known to the other Stages by name."""
    return Naming(project, env).prefix


def promotion_links(config: AppConfig, env_config: EnvironmentConfig) -> PromotionLinks:
    """The links of one environment in its chain (dev -> staging -> prod), validated by `load_config`."""
    target = config.environments[env_config.promotes_to] if env_config.promotes_to else None
    source = config.source_of(env_config.name)
    if source is not None and (source.region, source.account or "") != (env_config.region, env_config.account or ""):
        raise ConfigError(
            f"environments.{source.name}.promotes_to: {env_config.name!r} is in another account or region; its "
            "Deploy reads the source's approval records and artifacts through the source's SSM parameters, so both "
            "environments must share account and region"
        )
    return PromotionLinks(target=target, source=source, origin=config.origin_of(env_config.name))


def served_package_group(scope: Construct, naming: Naming, env_config: EnvironmentConfig) -> str:
    """The model package group whose versions this environment serves: its chain origin's (its own when it trains,
    or when the app's context defines no chain, as for a stack synthesized on its own)."""
    if not scope.node.try_get_context("environments"):
        return naming.model_package_group
    origin = links_from_context(scope, naming.project, env_config).origin
    return Naming(naming.project, origin.name).model_package_group


def links_from_context(scope: Construct, project: str, env_config: EnvironmentConfig) -> PromotionLinks:
    """The links as `cdk.json` context defines them (already validated by `app.build_app`)."""
    context = {key: scope.node.try_get_context(key) for key in ("environments", "model")}
    context["project"] = project
    return promotion_links(load_config(context), env_config)
