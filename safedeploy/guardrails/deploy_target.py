"""Where a deploy goes, read from the environment's SSM parameters: runtime code holds no names or ARNs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from safedeploy.guardrails.rolled_back import MarkUnreadable, RolledBackMarks
from safedeploy.guardrails.settings import GuardrailParameter
from safedeploy.parameters import Param, parameter_name


class MissingParameter(ValueError):
    """An SSM parameter the stacks publish is absent: wrong project/env, or the stacks are not deployed."""


def read_parameter(ssm: Any, project: str, env: str, key: Param) -> str:
    name = parameter_name(project, env, key)
    try:
        return ssm.get_parameter(Name=name)["Parameter"]["Value"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ParameterNotFound":
            raise
        raise MissingParameter(
            f"SSM parameter {name} not found: are the stacks of project {project!r} environment {env!r} deployed, "
            "and are --project/--env right?"
        ) from None


def read_optional_parameter(ssm: Any, project: str, env: str, key: Param) -> str | None:
    try:
        return read_parameter(ssm, project, env, key)
    except MissingParameter:
        return None


@dataclass(frozen=True)
class DeployTarget:
    """`marks`: where this environment's rolled-back marks are read and written; None where the caller only
    reads the settings (a deploy without it refuses, as for an unreadable mark)."""

    endpoint_name: str
    execution_role_arn: str
    guardrails: GuardrailParameter
    marks: RolledBackMarks | None = None

    @classmethod
    def load(cls, ssm: Any, project: str, env: str, s3: Any = None) -> DeployTarget:
        """`s3`: a client for the environment's artifacts bucket, where the rolled-back marks are."""
        endpoint_name = read_parameter(ssm, project, env, Param.ENDPOINT_NAME)
        marks = RolledBackMarks(s3, read_parameter(ssm, project, env, Param.ARTIFACTS_BUCKET)) if s3 else None
        return cls(
            endpoint_name=endpoint_name,
            execution_role_arn=read_parameter(ssm, project, env, Param.SAGEMAKER_EXECUTION_ROLE_ARN),
            guardrails=GuardrailParameter.from_json(
                read_parameter(ssm, project, env, Param.DEPLOYMENT_CONFIG),
                path=parameter_name(project, env, Param.DEPLOYMENT_CONFIG),
            ),
            marks=marks,
        )

    def require_marks(self) -> RolledBackMarks:
        if self.marks is None:
            raise MarkUnreadable(
                f"no rolled-back marks store for {self.endpoint_name}: whether a package was rolled back cannot be "
                "read, so nothing is deployed"
            )
        return self.marks
