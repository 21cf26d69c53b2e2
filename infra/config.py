"""Typed, validated configuration of every environment, built from the `cdk.json` context.

A wrong value must stop synth before any construct exists, with one line naming the key path, the value and what is
allowed, so that an infra engineer can fix `cdk.json` without reading a stack trace.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

import boto3
from aws_cdk import aws_logs as logs
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from safedeploy.guardrails.settings import DeploymentSettings, SettingError

PROJECT_PATTERN = r"^[a-z][a-z0-9-]{1,24}[a-z0-9]$"
ACCOUNT_PATTERN = r"^(\d{12})?$"
SSM_NAME_PATTERN = r"^(/[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*)?$"
ACM_ARN_PATTERN = r"^(arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]+)?$"
# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}
# Fargate task sizes: CPU units -> allowed memory (MiB).
FARGATE_MEMORY = {
    256: [512, 1024, 2048],
    512: [1024 * gib for gib in range(1, 5)],
    1024: [1024 * gib for gib in range(2, 9)],
    2048: [1024 * gib for gib in range(4, 17)],
    4096: [1024 * gib for gib in range(8, 31)],
}


class ConfigError(ValueError):
    """A configuration problem, as one line: `<key path>: <problem>`."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class PipelineConfig(_Section):
    branch: str = Field(default="main", pattern=r"^[A-Za-z0-9._/-]+$")
    log_retention_days: int = 30

    @field_validator("log_retention_days")
    @classmethod
    def _known_retention(cls, days: int) -> int:
        if days not in LOG_RETENTION:
            raise ValueError(f"must be one of CloudWatch Logs' retention periods {sorted(LOG_RETENTION)}")
        return days

    @property
    def log_retention(self) -> logs.RetentionDays:
        return LOG_RETENTION[self.log_retention_days]


class QualityGateConfig(_Section):
    min_auc: float = Field(default=0.75, ge=0, le=1)
    min_accuracy: float = Field(default=0.7, ge=0, le=1)
    min_f1: float = Field(default=0.6, ge=0, le=1)
    max_regression: float = Field(default=0.01, ge=0, le=1)


class ServingConfig(_Section):
    cpu: int = 512
    memory_mib: int = 1024
    desired_count: int = Field(default=2, ge=1, le=100)
    max_count: int = Field(default=6, ge=1, le=100)
    nat_gateways: int = Field(default=1, ge=1, le=2)
    certificate_arn: str = Field(default="", pattern=ACM_ARN_PATTERN)
    certificate_parameter: str = Field(default="", pattern=SSM_NAME_PATTERN)

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


class FeatureStoreConfig(_Section):
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


class FlagsConfig(_Section):
    use_sm_pipeline: bool = False
    use_feature_store: bool = False


class DriftConfig(_Section):
    """The drift job: how often it looks, and the chance of any false drift alarm per period of `period_days`."""

    schedule_minutes: int = Field(default=60, ge=5, le=1440)
    alpha: float = Field(default=0.05, gt=0.0, lt=0.5)
    period_days: int = Field(default=30, ge=1, le=366)
    sensitivity: float = Field(default=0.1, gt=0.0, le=10.0)
    accuracy_margin: float = Field(default=0.02, ge=0.0, lt=0.5)

    @property
    def period_looks(self) -> int:
        return max(1, self.period_days * 24 * 60 // self.schedule_minutes)


class EnvironmentConfig(_Section):
    name: str
    account: str = Field(default="", pattern=ACCOUNT_PATTERN)
    region: str = "ap-northeast-2"
    removal_policy: Literal["retain", "destroy"] = "retain"
    termination_protection: bool = True
    promotes_to: str | None = None
    pipeline: PipelineConfig = PipelineConfig()
    endpoint: DeploymentSettings
    quality_gate: QualityGateConfig = QualityGateConfig()
    serving: ServingConfig = ServingConfig()
    feature_store: FeatureStoreConfig = FeatureStoreConfig()
    flags: FlagsConfig = FlagsConfig()
    drift: DriftConfig = DriftConfig()

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, arbitrary_types_allowed=True)

    @field_validator("region")
    @classmethod
    def _known_region(cls, region: str) -> str:
        # botocore's bundled endpoint data: offline, and current with the pinned SDK.
        regions = boto3.session.Session().get_available_regions("sagemaker")
        if region not in regions:
            raise ValueError(f"unknown region {region!r}; SageMaker regions: {', '.join(sorted(regions))}")
        return region

    @model_validator(mode="after")
    def _production_is_protected(self) -> EnvironmentConfig:
        if self.name == "prod" and (self.removal_policy != "retain" or not self.termination_protection):
            raise ValueError("prod must keep removal_policy 'retain' and termination_protection true")
        if self.flags.use_feature_store and not self.feature_store.enable_feature_group:
            raise ValueError("flags.use_feature_store needs feature_store.enable_feature_group")
        return self

    @property
    def is_production(self) -> bool:
        return self.name == "prod"


class AppConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    project: str
    environments: dict[str, EnvironmentConfig]


def load_config(context: Mapping[str, Any]) -> AppConfig:
    """Build the configuration from CDK context; raise ConfigError naming the first bad key."""
    project = context.get("project", "my-mlops")
    if not isinstance(project, str) or not re.match(PROJECT_PATTERN, project):
        raise ConfigError(f"project: {project!r} must match {PROJECT_PATTERN} (lower-case, digits, hyphens)")
    raw_envs = context.get("environments")
    if not isinstance(raw_envs, Mapping) or not raw_envs:
        raise ConfigError("environments: missing; define at least 'dev' in cdk.json context")
    environments = {name: _load_environment(name, raw) for name, raw in raw_envs.items()}
    for env in environments.values():
        if env.promotes_to is not None and env.promotes_to not in environments:
            raise ConfigError(
                f"environments.{env.name}.promotes_to: {env.promotes_to!r} is not a defined environment "
                f"({', '.join(environments)})"
            )
    return AppConfig(project=project, environments=environments)


def _load_environment(name: str, raw: Any) -> EnvironmentConfig:
    path = f"environments.{name}"
    if not re.match(r"^[a-z][a-z0-9]{0,9}$", str(name)):
        raise ConfigError(f"{path}: environment name must be 1-10 lower-case letters or digits")
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path}: {raw!r} must be an object")
    try:
        endpoint = DeploymentSettings.from_mapping(raw.get("endpoint", {}), path=f"{path}.endpoint")
    except SettingError as error:
        raise ConfigError(str(error)) from None
    try:
        return EnvironmentConfig.model_validate({**raw, "name": name, "endpoint": endpoint})
    except ValidationError as error:
        raise ConfigError(_one_line(path, error, raw)) from None


def _one_line(path: str, error: ValidationError, raw: Mapping[str, Any]) -> str:
    first = error.errors(include_url=False)[0]
    location = ".".join(str(part) for part in first["loc"])
    key_path = f"{path}.{location}" if location else path
    if first["type"] == "extra_forbidden":
        return f"{key_path}: unknown key"
    value = _value_at(raw, first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    if value is None or isinstance(value, Mapping):  # a section-level rule names its own keys and values
        return f"{key_path}: {message}"
    return f"{key_path}: {value!r}: {message}"


def _value_at(raw: Mapping[str, Any], location: tuple[int | str, ...]) -> Any:
    value: Any = raw
    for part in location:
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value
