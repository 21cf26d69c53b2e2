"""The pipeline's Source action for an environment's `pipeline.source`: its CodeCommit repository (the default) or a
GitHub, GitLab or Bitbucket repository through a CodeConnections connection whose ARN lives in SSM.

CodeCommit is generally available again to new customers (since November 2025, docs/aws-behaviours.md); a connection
serves teams whose code lives elsewhere. A connection is only read: it gives CodePipeline the repository's content on
a push, nothing writes back to it.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_codecommit as codecommit
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra.grants import Grant, grant_to
from safedeploy.environment_config import ConnectionSource, EnvironmentConfig

SourceAction = actions.CodeCommitSourceAction | actions.CodeStarConnectionsSourceAction


@dataclass(frozen=True)
class PipelineSource:
    """Where one environment's pipeline reads code: `repository` is set for CodeCommit, None for a connection."""

    env_config: EnvironmentConfig
    repository: codecommit.IRepository | None

    def action(
        self,
        scope: Construct,
        action_name: str,
        output: codepipeline.Artifact,
        *,
        trigger: bool,
        variables_namespace: str | None,
    ) -> SourceAction:
        """`trigger`: a push to the branch starts the pipeline; otherwise the branch is read when it starts."""
        source, branch = self.env_config.pipeline.source, self.env_config.pipeline.branch
        if isinstance(source, ConnectionSource):
            return actions.CodeStarConnectionsSourceAction(
                action_name=action_name,
                connection_arn=connection_arn(scope, source),
                owner=source.owner,
                repo=source.name,
                branch=branch,
                output=output,
                trigger_on_push=trigger,
                variables_namespace=variables_namespace,
            )
        assert self.repository is not None, "a CodeCommit source has a repository"
        return actions.CodeCommitSourceAction(
            action_name=action_name,
            repository=self.repository,
            branch=branch,
            output=output,
            # EVENTS: an EventBridge rule on pushes to this branch starts the pipeline; NONE: read at start only.
            trigger=actions.CodeCommitTrigger.EVENTS if trigger else actions.CodeCommitTrigger.NONE,
            variables_namespace=variables_namespace,
        )


def connection_arn(scope: Construct, source: ConnectionSource) -> str:
    """Resolved by CloudFormation at deploy time from the SSM parameter the infra engineer wrote."""
    return ssm.StringParameter.value_for_string_parameter(scope, source.connection_arn_parameter)


def grant_connection_use(scope: Construct, role: iam.IRole, source: ConnectionSource) -> None:
    """CDK grants `codestar-connections:UseConnection`; connections created since July 2024 have `codeconnections`
    ARNs, and IAM matches an action only to ARNs of its own service prefix, so the successor's action is added on the
    same connection (each of the two matches only its own kind of ARN)."""
    grant_to(
        role,
        Grant.of(
            iam.PolicyStatement(actions=["codeconnections:UseConnection"], resources=[connection_arn(scope, source)])
        ),
    )
