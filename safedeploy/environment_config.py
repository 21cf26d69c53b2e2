"""Typed, validated configuration of every environment, built from the `cdk.json` context: one model per section,
composed here; each section's fields hold its defaults and rules (`safedeploy.sections`).

A wrong value must stop synth before any construct exists, with one line naming the key path, the value and what is
allowed, so that an infra engineer can fix `cdk.json` without reading a stack trace. No CDK type appears here: the
CLI (`safedeploy config show`, `cost`) reads cdk.json with these same models, and `infra/config.py` adds the CDK
views the stacks need.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import boto3
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_serializer, field_validator, model_validator

from safedeploy.build_steps.model_plugin import ModelPlugin
from safedeploy.drift.settings import DriftConfig
from safedeploy.errors import ConfigError
from safedeploy.guardrails.settings import DeploymentSettings
from safedeploy.lambda_actions.quality_gate import QualityGateConfig
from safedeploy.sections import Section, one_line

PRODUCTION = "prod"
PROJECT_PATTERN = r"^[a-z][a-z0-9-]{1,24}[a-z0-9]$"
ACCOUNT_PATTERN = r"^(\d{12})?$"
SSM_NAME_PATTERN = r"^(/[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*)?$"
ACM_ARN_PATTERN = r"^(arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]+)?$"
# CodeConnections provider types (the CodeStarSourceConnection action reads all of them); GitLab groups nest.
CONNECTION_PROVIDERS = ("GitHub", "GitHubEnterpriseServer", "GitLab", "GitLabSelfManaged", "Bitbucket")
NESTED_GROUP_PROVIDERS = ("GitLab", "GitLabSelfManaged")
# Regions where CodePipeline's CodeStarSourceConnection action is not available (its action reference page).
NO_CONNECTION_SOURCE_REGIONS = frozenset(
    {"ap-east-1", "ap-south-2", "ap-southeast-3", "ap-southeast-4", "ap-northeast-3", "af-south-1", "me-south-1",
     "me-central-1", "eu-south-2", "eu-central-2", "il-central-1", "us-gov-west-1"}
)  # fmt: skip
# CloudWatch Logs accepts only these retention periods: days -> the name CDK's RetentionDays gives each.
LOG_RETENTION = {
    1: "ONE_DAY",
    3: "THREE_DAYS",
    5: "FIVE_DAYS",
    7: "ONE_WEEK",
    14: "TWO_WEEKS",
    30: "ONE_MONTH",
    60: "TWO_MONTHS",
    90: "THREE_MONTHS",
    120: "FOUR_MONTHS",
    150: "FIVE_MONTHS",
    180: "SIX_MONTHS",
    365: "ONE_YEAR",
    400: "THIRTEEN_MONTHS",
    545: "EIGHTEEN_MONTHS",
    731: "TWO_YEARS",
    1827: "FIVE_YEARS",
    3653: "TEN_YEARS",
}
# Fargate task sizes: CPU units -> allowed memory (MiB).
FARGATE_MEMORY = {
    256: [512, 1024, 2048],
    512: [1024 * gib for gib in range(1, 5)],
    1024: [1024 * gib for gib in range(2, 9)],
    2048: [1024 * gib for gib in range(4, 17)],
    4096: [1024 * gib for gib in range(8, 31)],
}


# "The maximum length for a parameter name that you specify is 1011 characters", counting the ARN before the name
# (botocore ssm PutParameter `Name`; the model's 2048 includes 1037 characters reserved by Systems Manager).
SSM_NAME_WITH_ARN = 1011
# CodeCommit branch names: 1-256 characters (botocore codecommit `BranchName`).
BRANCH_NAME_LIMIT = 256


@functools.cache
def _endpoint_data() -> boto3.session.Session:
    """botocore's bundled endpoint data (offline, current with the pinned SDK), read once: a new session parses its
    endpoint files again, which cost about a second per configuration loaded."""
    return boto3.session.Session()


def ssm_name_limit(region: str) -> int:
    """What is left of SSM's 1011 characters after the parameter ARN before the name (`arn:aws:ssm:<region>:...`)."""
    partition = _endpoint_data().get_partition_for_region(region)
    return SSM_NAME_WITH_ARN - len(f"arn:{partition}:ssm:{region}:000000000000:parameter")


class CodeCommitSource(Section):
    """The environment's own CodeCommit repository `<project>-<env>`, created by the pipeline stack."""

    kind: Literal["codecommit"] = "codecommit"


class ConnectionSource(Section):
    """A repository on GitHub, GitLab or Bitbucket, read through an AWS CodeConnections connection.

    The connection is created and completed (the provider handshake) outside CDK; its ARN is read from the SSM
    parameter `connection_arn_parameter` at deploy time, so no ARN sits in cdk.json or in code.
    """

    kind: Literal["codeconnections"]
    provider: Literal[CONNECTION_PROVIDERS]  # type: ignore[valid-type]
    connection_arn_parameter: str = Field(pattern=r"^/[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")
    repository: str = Field(pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$")

    @model_validator(mode="after")
    def _repository_shape(self) -> ConnectionSource:
        if self.provider not in NESTED_GROUP_PROVIDERS and self.repository.count("/") != 1:
            raise ValueError(f"repository {self.repository!r}: {self.provider} repositories are 'owner/name'")
        return self

    @property
    def owner(self) -> str:
        return self.repository.rsplit("/", 1)[0]

    @property
    def name(self) -> str:
        return self.repository.rsplit("/", 1)[1]


PipelineSource = Annotated[CodeCommitSource | ConnectionSource, Field(discriminator="kind")]


class PipelineConfig(Section):
    branch: str = Field(default="main", pattern=r"^[A-Za-z0-9._/-]+$", max_length=BRANCH_NAME_LIMIT)
    log_retention_days: int = 30
    source: PipelineSource = CodeCommitSource()

    @field_validator("log_retention_days")
    @classmethod
    def _known_retention(cls, days: int) -> int:
        if days not in LOG_RETENTION:
            raise ValueError(f"must be one of CloudWatch Logs' retention periods {sorted(LOG_RETENTION)}")
        return days


class AccessConfig(Section):
    """Who can reach the gateway: callers inside the VPC (internal ALB) or the internet (API keys, WAF, HTTPS).

    Every request to /predict and /feedback carries an API key in both modes; `internet` additionally needs a
    certificate. `allow_http` is the explicit, warned choice of a plain-HTTP listener outside production.
    """

    mode: Literal["internal", "internet"] = "internal"
    # Internal mode: networks besides the VPC's own that may reach the listener (peered VPCs, a VPN); never 0.0.0.0/0.
    allowed_cidrs: list[str] = Field(default_factory=list)
    allow_http: bool = False

    @field_validator("allowed_cidrs")
    @classmethod
    def _networks(cls, cidrs: list[str]) -> list[str]:
        for cidr in cidrs:
            try:
                network = ipaddress.IPv4Network(cidr)
            except ValueError:
                raise ValueError(f"{cidr!r} is not an IPv4 CIDR such as 10.20.0.0/16") from None
            if network.prefixlen == 0:
                raise ValueError(f"{cidr!r} opens the internal load balancer to every address; use mode 'internet'")
        return cidrs

    @model_validator(mode="after")
    def _cidrs_only_inside(self) -> AccessConfig:
        if self.mode == "internet" and self.allowed_cidrs:
            raise ValueError(
                "allowed_cidrs applies to mode 'internal'; an internet-facing gateway admits every address"
            )
        return self


class RateLimitConfig(Section):
    """Two limits: AWS WAF per client address at the load balancer, and the gateway per API key (per worker)."""

    # AWS WAF rate-based rule: requests per evaluation window per client IP (WAF's minimum limit is 10).
    waf_requests_per_client: int = Field(default=1000, ge=10, le=2_000_000_000)
    waf_window_seconds: Literal[60, 120, 300, 600] = 300
    per_key_requests_per_second: int = Field(default=50, ge=1, le=100_000)
    per_key_burst: int = Field(default=100, ge=1, le=1_000_000)


class ServingConfig(Section):
    cpu: int = 512
    memory_mib: int = 1024
    desired_count: int = Field(default=2, ge=1, le=100)
    max_count: int = Field(default=6, ge=1, le=100)
    nat_gateways: int = Field(default=1, ge=1, le=2)
    certificate_arn: str = Field(default="", pattern=ACM_ARN_PATTERN)
    certificate_parameter: str = Field(default="", pattern=SSM_NAME_PATTERN)
    access: AccessConfig = AccessConfig()
    rate_limit: RateLimitConfig = RateLimitConfig()

    @model_validator(mode="after")
    def _fargate_size(self) -> ServingConfig:
        if self.certificate_arn and self.certificate_parameter:
            raise ValueError("set certificate_arn or certificate_parameter, not both")
        if self.cpu not in FARGATE_MEMORY:
            raise ValueError(f"cpu {self.cpu} is not a Fargate size; allowed: {sorted(FARGATE_MEMORY)}")
        if self.memory_mib not in FARGATE_MEMORY[self.cpu]:
            raise ValueError(
                f"memory_mib {self.memory_mib} does not fit cpu {self.cpu}; allowed: {FARGATE_MEMORY[self.cpu]}"
            )
        if self.max_count < self.desired_count:
            raise ValueError(f"max_count {self.max_count} is below desired_count {self.desired_count}")
        return self


class FeatureStoreConfig(Section):
    enable_feature_group: bool = False
    use_existing_feature_group: bool = False
    feature_group_name: str = Field(default="", pattern=r"^([a-zA-Z0-9]([-_]*[a-zA-Z0-9]){0,63})?$")

    @model_validator(mode="after")
    def _existing_needs_name(self) -> FeatureStoreConfig:
        if self.use_existing_feature_group and not self.feature_group_name:
            raise ValueError("use_existing_feature_group needs feature_group_name (the group to import)")
        if self.use_existing_feature_group and not self.enable_feature_group:
            raise ValueError("use_existing_feature_group needs enable_feature_group")
        return self


class FlagsConfig(Section):
    use_sm_pipeline: bool = False
    use_feature_store: bool = False


class EnvironmentConfig(Section):
    name: str
    account: str = Field(default="", pattern=ACCOUNT_PATTERN)
    region: str = "ap-northeast-2"
    removal_policy: Literal["retain", "destroy"] = "retain"
    termination_protection: bool = True
    # S3 Object Lock (GOVERNANCE) default retention of the artifacts bucket in days; 0 = no Object Lock.
    artifact_lock_days: int = Field(default=0, ge=0, le=36500)
    promotes_to: str | None = None
    pipeline: PipelineConfig = PipelineConfig()
    endpoint: DeploymentSettings
    quality_gate: QualityGateConfig = QualityGateConfig()
    serving: ServingConfig = ServingConfig()
    feature_store: FeatureStoreConfig = FeatureStoreConfig()
    flags: FlagsConfig = FlagsConfig()
    drift: DriftConfig = DriftConfig()

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, arbitrary_types_allowed=True)

    @field_serializer("endpoint")
    def _endpoint(self, endpoint: DeploymentSettings) -> dict[str, Any]:
        return endpoint.to_dict()

    @field_validator("region")
    @classmethod
    def _known_region(cls, region: str) -> str:
        regions = _endpoint_data().get_available_regions("sagemaker")
        if region not in regions:
            raise ValueError(f"unknown region {region!r}; SageMaker regions: {', '.join(sorted(regions))}")
        return region

    @model_validator(mode="after")
    def _production_is_protected(self) -> EnvironmentConfig:
        if self.is_production and (self.removal_policy != "retain" or not self.termination_protection):
            raise ValueError("prod must keep removal_policy 'retain' and termination_protection true")
        if self.name == "prod" and not self.artifact_lock_days:
            raise ValueError("prod must lock its approved artifacts: set artifact_lock_days (S3 Object Lock) above 0")
        if self.flags.use_feature_store and not self.feature_store.enable_feature_group:
            raise ValueError("flags.use_feature_store needs feature_store.enable_feature_group")
        parameters = {
            "serving.certificate_parameter": self.serving.certificate_parameter,
            "pipeline.source.connection_arn_parameter": getattr(self.pipeline.source, "connection_arn_parameter", ""),
        }
        for key, parameter in parameters.items():
            if len(parameter) > (limit := ssm_name_limit(self.region)):
                raise ValueError(
                    f"{key}: {parameter[:40]!r}... is {len(parameter)} characters; an SSM parameter name in "
                    f"{self.region} has at most {limit}"
                )
        if self.pipeline.source.kind == "codeconnections" and self.region in NO_CONNECTION_SOURCE_REGIONS:
            raise ValueError(
                f"pipeline.source: CodePipeline's CodeConnections source action is not available in {self.region}; "
                "use 'codecommit' there"
            )
        return self

    @property
    def is_production(self) -> bool:
        return self.name == PRODUCTION


class AppConfig(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    project: str
    environments: dict[str, EnvironmentConfig]
    model: ModelPlugin

    def source_of(self, name: str) -> EnvironmentConfig | None:
        """The environment that promotes to `name` (at most one, see `_check_promotion_chains`)."""
        return next((env for env in self.environments.values() if env.promotes_to == name), None)

    def origin_of(self, name: str) -> EnvironmentConfig:
        """The environment at the head of `name`'s chain: the one that trained and approved what `name` deploys."""
        env = self.environments[name]
        while (source := self.source_of(env.name)) is not None:
            env = source
        return env

    def chain_of(self, name: str) -> list[str]:
        """`name`'s promotion chain from its origin to its end, e.g. ['dev', 'staging', 'prod']."""
        chain = [self.origin_of(name).name]
        while (target := self.environments[chain[-1]].promotes_to) is not None:
            chain.append(target)
        return chain


def load_config(context: Mapping[str, Any]) -> AppConfig:
    """Build the configuration from CDK context; raise ConfigError naming the first bad key."""
    project = context.get("project", "my-mlops")
    if not isinstance(project, str) or not re.match(PROJECT_PATTERN, project):
        raise ConfigError(f"project: {project!r} must match {PROJECT_PATTERN} (lower-case, digits, hyphens)")
    raw_envs = context.get("environments")
    if not isinstance(raw_envs, Mapping) or not raw_envs:
        raise ConfigError("environments: missing; define at least 'dev' in cdk.json context")
    environments = {name: load_environment(name, raw) for name, raw in raw_envs.items()}
    _check_promotion_chains(environments)
    model = ModelPlugin.from_mapping(context.get("model"), path="model")
    _check_quality_minimums(environments, model)
    return AppConfig(project=project, environments=environments, model=model)


def _check_quality_minimums(environments: Mapping[str, EnvironmentConfig], model: ModelPlugin) -> None:
    """An environment's `min_<metric>` must be a metric the model reports: another would fail every candidate."""
    for env in environments.values():
        unknown = sorted(set(env.quality_gate.minimums) - set(model.metrics))
        if unknown:
            raise ConfigError(
                f"environments.{env.name}.quality_gate.min_{unknown[0]}: the model reports no {unknown[0]!r} "
                f"(model.metrics: {', '.join(model.metrics)})"
            )


def _check_promotion_chains(environments: Mapping[str, EnvironmentConfig]) -> None:
    """Promotion forms chains (dev -> staging -> prod): each starts at an environment that trains, and prod is never
    the start of one, because prod deploys only packages approved before it."""
    sources: dict[str, list[str]] = {}
    for env in environments.values():
        if env.promotes_to is None:
            continue
        path = f"environments.{env.name}.promotes_to"
        if env.promotes_to == env.name:
            raise ConfigError(f"{path}: {env.name!r}: an environment cannot promote to itself")
        if env.promotes_to not in environments:
            raise ConfigError(f"{path}: {env.promotes_to!r} is not a defined environment ({', '.join(environments)})")
        sources.setdefault(env.promotes_to, []).append(env.name)
    for target, names in sources.items():
        if len(names) > 1:
            raise ConfigError(
                f"environments.{target}: promoted to from several environments ({', '.join(names)}); "
                "a chain has one source per environment"
            )
    for env in environments.values():
        if env.promotes_to is not None and environments[env.promotes_to].pipeline.source.kind != "codecommit":
            raise ConfigError(
                f"environments.{env.promotes_to}.pipeline.source.kind: 'codeconnections': {env.name}'s Promote step "
                f"commits release.json to {env.promotes_to}'s repository through the CodeCommit API, and "
                "CodeConnections offers no API to commit to a GitHub, GitLab or Bitbucket repository; keep "
                f"{env.promotes_to} on 'codecommit' (it never trains, so it needs no model code)"
            )
    for start in environments:
        seen = [start]
        while (target := environments[seen[-1]].promotes_to) is not None:
            if target in seen:
                cycle = " -> ".join([*seen[seen.index(target) :], target])
                raise ConfigError(
                    f"environments.{seen[-1]}.promotes_to: {target!r} closes the cycle {cycle}; "
                    "a chain must start at an environment that trains"
                )
            seen.append(target)
    if PRODUCTION in environments and PRODUCTION not in sources:
        raise ConfigError(
            f"environments.{PRODUCTION}: no environment promotes to it; {PRODUCTION} never trains, it deploys what "
            f"the environment before it approved (set promotes_to: {PRODUCTION!r} there)"
        )


def load_environment(name: str, raw: Any) -> EnvironmentConfig:
    """One environment's entry of cdk.json `environments`, alone (the promotion chains are `load_config`'s)."""
    path = f"environments.{name}"
    if not re.match(r"^[a-z][a-z0-9]{0,9}$", str(name)):
        raise ConfigError(f"{path}: environment name must be 1-10 lower-case letters or digits")
    if raw is None:
        raise ConfigError(f"{path}: null; give an object (each of its keys has a default: {{}} takes them all)")
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path}: {raw!r} must be an object")
    endpoint = DeploymentSettings.from_mapping(raw.get("endpoint", {}), path=f"{path}.endpoint")
    try:
        return EnvironmentConfig.model_validate({**raw, "name": name, "endpoint": endpoint})
    except ValidationError as error:
        raise ConfigError(one_line(path, error, raw)) from None
