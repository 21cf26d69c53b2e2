"""Where a deploy goes, read from the environment's SSM parameters: runtime code holds no names or ARNs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

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
    endpoint_name: str
    execution_role_arn: str
    guardrails: GuardrailParameter

    @classmethod
    def load(cls, ssm: Any, project: str, env: str) -> DeployTarget:
        return cls(
            endpoint_name=read_parameter(ssm, project, env, Param.ENDPOINT_NAME),
            execution_role_arn=read_parameter(ssm, project, env, Param.SAGEMAKER_EXECUTION_ROLE_ARN),
            guardrails=GuardrailParameter.from_json(
                read_parameter(ssm, project, env, Param.DEPLOYMENT_CONFIG),
                path=parameter_name(project, env, Param.DEPLOYMENT_CONFIG),
            ),
        )
