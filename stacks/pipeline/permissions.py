"""Policy statements only the release pipeline needs; the generic ones come from `infra.iam_role`."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam

SAGEMAKER_SERVICE = "sagemaker.amazonaws.com"


def pass_role_to_sagemaker(role: iam.IRole) -> iam.PolicyStatement:
    """Hand the SageMaker execution role to SageMaker jobs and models, and to no other service."""
    return iam.PolicyStatement(
        actions=["iam:PassRole"],
        resources=[role.role_arn],
        conditions={"StringEquals": {"iam:PassedToService": SAGEMAKER_SERVICE}},
    )


def pipeline_arn(stack: Stack, pipeline_name: str) -> str:
    """Built from the name: a reference to the pipeline would make the functions it invokes depend on it (cycle)."""
    return stack.format_arn(service="codepipeline", resource=pipeline_name)


def read_action_executions(stack: Stack, pipeline_name: str) -> iam.PolicyStatement:
    """Who decided an approval is recorded only in the pipeline's action executions."""
    return iam.PolicyStatement(
        actions=["codepipeline:ListActionExecutions"], resources=[pipeline_arn(stack, pipeline_name)]
    )


def commit_release(stack: Stack, repository_name: str) -> iam.PolicyStatement:
    """Commit one file on top of a branch of one repository (GetBranch for the parent, PutFile for the commit)."""
    return iam.PolicyStatement(
        actions=["codecommit:GetBranch", "codecommit:PutFile"],
        resources=[stack.format_arn(service="codecommit", resource=repository_name)],
    )


def read_release(stack: Stack, repository_name: str) -> iam.PolicyStatement:
    """Read one file of one repository at a commit: the release.json an environment deployed."""
    return iam.PolicyStatement(
        actions=["codecommit:GetFile"], resources=[stack.format_arn(service="codecommit", resource=repository_name)]
    )


def list_model_packages() -> iam.PolicyStatement:
    """sagemaker:ListModelPackages has no resource-level permissions, so its resource must be `*`."""
    return iam.PolicyStatement(actions=["sagemaker:ListModelPackages"], resources=["*"])
