"""Which environment a pipeline promotes to and which one it takes approved packages from.

An environment that another one promotes to never retrains: its pipeline deploys the package named in the
`release.json` the other environment's Promote action commits. Both ends live in different Stages, which CDK forbids
to reference each other, so each side derives the other's repository and branch from the validated configuration
instead of from a construct.
"""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct

from infra.config import AppConfig, ConfigError, EnvironmentConfig, load_config
from infra.naming import Naming


@dataclass(frozen=True)
class PromotionLinks:
    """`target`: where this environment's Promote commits; `source`: whose approved packages it deploys."""

    target: EnvironmentConfig | None
    source: EnvironmentConfig | None

    @property
    def trains(self) -> bool:
        return self.source is None


def repository_name(project: str, env: str) -> str:
    """Each environment's CodeCommit repository is `<project>-<env>`, known to the other Stages by name."""
    return Naming(project, env).prefix


def promotion_links(config: AppConfig, env_config: EnvironmentConfig) -> PromotionLinks:
    """The links of one environment; a chain (promoted to, and promoting on) or a fan-in is refused."""
    sources = [env for env in config.environments.values() if env.promotes_to == env_config.name]
    path = f"environments.{env_config.name}"
    if len(sources) > 1:
        names = ", ".join(env.name for env in sources)
        raise ValueError(f"{path}: promoted to from several environments ({names}); only one source is supported")
    source = sources[0] if sources else None
    if source is not None and env_config.promotes_to is not None:
        raise ValueError(
            f"{path}.promotes_to: {env_config.promotes_to!r}: an environment promoted to from {source.name!r} "
            "does not train, so it has no package of its own to promote"
        )
    target = config.environments[env_config.promotes_to] if env_config.promotes_to else None
    if source is not None and (source.region, source.account or "") != (env_config.region, env_config.account or ""):
        raise ConfigError(
            f"environments.{source.name}.promotes_to: {env_config.name!r} is in another account or region; its "
            "Deploy reads the source's approval records and artifacts through the source's SSM parameters, so both "
            "environments must share account and region"
        )
    return PromotionLinks(target=target, source=source)


def links_from_context(scope: Construct, project: str, env_config: EnvironmentConfig) -> PromotionLinks:
    """The links as `cdk.json` context defines them (already validated by `app.build_app`)."""
    context = {"project": project, "environments": scope.node.try_get_context("environments")}
    return promotion_links(load_config(context), env_config)
