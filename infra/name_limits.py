"""Every physical name the app builds from cdk.json fits AWS's limit for it, checked when an environment's stage is
built, before anything is synthesized: a name too long stops synth with one line instead of failing the deploy.

The names are read from the resources themselves (whatever code named them), so a resource added later is checked
too. Each limit comes from botocore's service model (the shape named beside it; a test compares them) or, where the
model's maximum covers a longer form than the name, from the API documentation quoted in that model.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import CfnResource, Stack, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codecommit as codecommit
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_ssm as ssm
from aws_cdk import aws_wafv2 as wafv2
from constructs import IConstruct

from safedeploy.environment_config import ssm_name_limit
from safedeploy.errors import ConfigError
from safedeploy.guardrails.release_names import ReleaseNames

# The highest package version whose endpoint-config names (`<endpoint>-v<version>-shadow`) must still fit.
VERSIONS_PLANNED = 99_999
# "If you specify only the function name, it is limited to 64 characters" (botocore lambda CreateFunction
# `FunctionName`, whose 140 covers the full ARN).
LAMBDA_FUNCTION_NAME = 64
# CloudFormation: "A stack name can contain only alphanumeric characters (case-sensitive) and hyphens. It must start
# with an alphabetic character and can't be longer than 128 characters" (CreateStack, StackName).
STACK_NAME = 128


@dataclass(frozen=True)
class NameLimit:
    what: str
    attribute: str  # the L1 property holding the name
    limit: int
    model: tuple[str, str] | None  # (botocore service, shape) whose `max` is `limit`; None: documented only


LIMITS: dict[type[CfnResource], NameLimit] = {
    sagemaker.CfnModelPackageGroup: NameLimit(
        "model package group name", "model_package_group_name", 63, ("sagemaker", "EntityName")
    ),
    codepipeline.CfnPipeline: NameLimit("pipeline name", "name", 100, ("codepipeline", "PipelineName")),
    codebuild.CfnProject: NameLimit("CodeBuild project name", "name", 150, ("codebuild", "ProjectName")),
    lambda_.CfnFunction: NameLimit("Lambda function name", "function_name", LAMBDA_FUNCTION_NAME, None),
    iam.CfnRole: NameLimit("IAM role name", "role_name", 64, ("iam", "roleNameType")),
    logs.CfnLogGroup: NameLimit("log group name", "log_group_name", 512, ("logs", "LogGroupName")),
    codecommit.CfnRepository: NameLimit(
        "CodeCommit repository name", "repository_name", 100, ("codecommit", "RepositoryName")
    ),
    events.CfnRule: NameLimit("EventBridge rule name", "name", 64, ("events", "RuleName")),
    kms.CfnAlias: NameLimit("KMS alias", "alias_name", 256, ("kms", "AliasNameType")),
    cloudwatch.CfnAlarm: NameLimit("alarm name", "alarm_name", 255, ("cloudwatch", "AlarmName")),
    wafv2.CfnWebACL: NameLimit("web ACL name", "name", 128, ("wafv2", "EntityName")),
    secretsmanager.CfnSecret: NameLimit("secret name", "name", 512, ("secretsmanager", "NameType")),
}


def check_name_lengths(scope: IConstruct, where: str, *, endpoint_name: str, region: str) -> None:
    """Raise ConfigError (`<where>: the <what> '<name>' is N characters; AWS allows M`) for the first name too long.

    `where` names the configuration that produced the names (`environments.dev`).
    """
    ssm_limit = ssm_name_limit(region)
    for node in scope.node.find_all():
        if isinstance(node, Stack) and len(node.stack_name) > STACK_NAME:
            _too_long(where, "stack name", node.stack_name, STACK_NAME)
        if isinstance(node, ssm.CfnParameter) and _literal(node.name) and len(node.name) > ssm_limit:
            _too_long(where, f"SSM parameter name (in {region})", node.name, ssm_limit)
        rule = next((rule for kind, rule in LIMITS.items() if isinstance(node, kind)), None)
        name = getattr(node, rule.attribute) if rule else None
        if rule and _literal(name) and len(name) > rule.limit:
            _too_long(where, rule.what, name, rule.limit)
    try:
        ReleaseNames(endpoint_name, VERSIONS_PLANNED)
    except ValueError as error:
        raise ConfigError(
            f"{where}: {error} (at version {VERSIONS_PLANNED}); shorten the project or environment name"
        ) from None


def _literal(name: object) -> bool:
    return isinstance(name, str) and not Token.is_unresolved(name)


def _too_long(where: str, what: str, name: str, limit: int) -> None:
    shown = name if len(name) <= 80 else f"{name[:77]}..."
    raise ConfigError(
        f"{where}: the {what} {shown!r} is {len(name)} characters; AWS allows {limit} "
        "(shorten the project or environment name)"
    )
