"""What one training release needs to know, from the build's environment and the environment's SSM parameters.

CodeBuild gives `PROJECT`, `ENV`, the switches and the commit; names and ARNs come from `/<project>/<env>/<key>`
(an environment variable of the same name, e.g. `DATA_BUCKET`, wins, so a project can also inject them). CodeBuild's
`env.parameter-store` cannot build a parameter name from variables, which is why the step reads SSM itself instead
of the buildspec naming one project's parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from safedeploy.build_steps.flags import env_flag
from safedeploy.errors import ConfigError
from safedeploy.naming import Naming
from safedeploy.parameters import Param, parameter_name
from safedeploy.s3_layout import split_s3_uri

COMMIT_VARIABLE = "CODEBUILD_RESOLVED_SOURCE_VERSION"
DEFAULT_ROWS = 5000
DEFAULT_SEED = 42


@dataclass(frozen=True)
class ReleaseSettings:
    project: str
    env: str
    region: str
    commit_id: str
    data_bucket: str
    artifacts_bucket: str
    kms_key_arn: str
    model_package_group: str
    use_sm_pipeline: bool
    use_feature_store: bool
    external_csv_uri: str | None
    rows: int
    seed: int
    execution_role_arn: str | None = None
    feature_group_name: str | None = None
    run_id: str = "local"

    @classmethod
    def from_environment(cls, environ: Mapping[str, str], ssm: Any, *, region: str) -> ReleaseSettings:
        project, env = _required(environ, "PROJECT"), _required(environ, "ENV")
        use_sm_pipeline = env_flag(environ, "USE_SM_PIPELINE")
        use_feature_store = env_flag(environ, "USE_FEATURE_STORE")
        lookup = _ParameterLookup(environ, ssm, project, env)
        return cls(
            project=project,
            env=env,
            region=region,
            commit_id=_required(environ, COMMIT_VARIABLE, hint="CodeBuild sets it; export it to run elsewhere"),
            data_bucket=lookup(Param.DATA_BUCKET),
            artifacts_bucket=lookup(Param.ARTIFACTS_BUCKET),
            kms_key_arn=lookup(Param.KMS_KEY_ARN),
            model_package_group=lookup(Param.MODEL_PACKAGE_GROUP),
            use_sm_pipeline=use_sm_pipeline,
            use_feature_store=use_feature_store,
            external_csv_uri=_optional_s3_uri(environ, "EXTERNAL_CSV_URI"),
            rows=_positive_int(environ, "TRAINING_ROWS", DEFAULT_ROWS),
            seed=_positive_int(environ, "TRAINING_SEED", DEFAULT_SEED),
            execution_role_arn=lookup(Param.SAGEMAKER_EXECUTION_ROLE_ARN) if use_sm_pipeline else None,
            feature_group_name=lookup(Param.FEATURE_GROUP_NAME) if use_feature_store else None,
            run_id=environ.get("CODEBUILD_BUILD_NUMBER") or datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"),
        )

    @property
    def naming(self) -> Naming:
        return Naming(self.project, self.env)

    @property
    def run_key(self) -> str:
        """S3 key segment of this run: the commit, then the build, so reruns of one commit never overwrite."""
        return f"{self.commit_id[:12]}/{self.run_id}"


class _ParameterLookup:
    def __init__(self, environ: Mapping[str, str], ssm: Any, project: str, env: str) -> None:
        self._environ, self._ssm, self._project, self._env = environ, ssm, project, env

    def __call__(self, key: Param) -> str:
        variable = key.value.upper().replace("-", "_")
        if self._environ.get(variable):
            return self._environ[variable]
        name = parameter_name(self._project, self._env, key)
        try:
            return str(self._ssm.get_parameter(Name=name)["Parameter"]["Value"])
        except self._ssm.exceptions.ParameterNotFound:
            raise ConfigError(
                f"SSM parameter {name} does not exist (and {variable} is not set): deploy the storage stack of "
                f"{self._project}-{self._env} first"
            ) from None


def _required(environ: Mapping[str, str], name: str, hint: str = "") -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} is not set" + (f" ({hint})" if hint else ""))
    return value


def _optional_s3_uri(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name, "").strip()
    if not value:
        return None
    try:
        split_s3_uri(value)
    except ValueError as error:
        raise ConfigError(f"{name}: {error}") from None
    return value


def _positive_int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{name} must be a positive integer, got {raw!r}")
    return int(raw)
