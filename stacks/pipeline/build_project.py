"""A pipeline CodeBuild project: the playbook's log group, the environment's key, a pip cache and a narrow role."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_codebuild as codebuild
from constructs import Construct

from infra import iam_role
from infra.grants import Grant, acknowledge_cdk_grants, grant_policy
from infra.log_encryption import LogGroupKey
from safedeploy.environment_config import EnvironmentConfig
from safedeploy.naming import Naming
from stacks.storage_stack import StorageStack

# In the pipeline's working bucket (CodePipeline's artifact store), never in the Object Lock artifacts bucket.
CACHE_PREFIX = "pipelines/build-cache"
BUILD_IMAGE = codebuild.LinuxBuildImage.STANDARD_7_0


def flag(value: bool) -> str:
    return "true" if value else "false"


class PipelineBuildProject(Construct):
    """`<project>-<env>-<purpose>` running `buildspec` from the source, logging to `<project>-<env>-<Purpose>Logs`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        naming: Naming,
        env_config: EnvironmentConfig,
        storage: StorageStack,
        log_key: LogGroupKey,
        purpose: str,
        buildspec: str | codebuild.BuildSpec,
        description: str,
        timeout: Duration,
        grants: Sequence[Grant],
        environment: Mapping[str, str] | None = None,
        parameter_environment: Mapping[str, str] | None = None,
    ) -> None:
        """`buildspec`: a file of the source artifact, or the project's own; `parameter_environment`: variables
        CodeBuild resolves from SSM parameters (name -> parameter name) when a build starts."""
        super().__init__(scope, construct_id)
        self.log_group = log_key.log_group(self, "Logs", log_group_name=naming.log_group(purpose.capitalize()))
        variables = {
            "PROJECT": naming.project,
            "ENV": naming.env,
            "USE_SM_PIPELINE": flag(env_config.flags.use_sm_pipeline),
            "USE_FEATURE_STORE": flag(env_config.flags.use_feature_store),
            **(environment or {}),
        }
        self.project = codebuild.PipelineProject(
            self,
            "Project",
            project_name=naming.resource(purpose.lower()),
            description=description,
            build_spec=(
                codebuild.BuildSpec.from_source_filename(buildspec) if isinstance(buildspec, str) else buildspec
            ),
            environment=codebuild.BuildEnvironment(
                build_image=BUILD_IMAGE, compute_type=codebuild.ComputeType.SMALL, privileged=False
            ),
            environment_variables={
                **{name: codebuild.BuildEnvironmentVariable(value=value) for name, value in variables.items()},
                **{
                    name: codebuild.BuildEnvironmentVariable(
                        value=parameter, type=codebuild.BuildEnvironmentVariableType.PARAMETER_STORE
                    )
                    for name, parameter in (parameter_environment or {}).items()
                },
            },
            encryption_key=storage.key,
            cache=codebuild.Cache.bucket(storage.pipeline_bucket, prefix=CACHE_PREFIX),
            logging=codebuild.LoggingOptions(cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=self.log_group)),
            timeout=timeout,
        )
        self.role = self.project.role
        assert self.role is not None, "a PipelineProject always creates its role"
        self.policy = grant_policy(
            self,
            "Permissions",
            self.role,
            iam_role.ssm_read(Stack.of(self), naming),
            iam_role.kms_use(storage.key, encrypt=True),
            *grants,
            acknowledge_on=self,
        )
        # What CDK granted the project: the cache (the pipeline bucket, object-wide, with wildcard actions; the
        # pipeline's artifact store in the same bucket is granted alike when the project joins the pipeline), the
        # key, and its report groups and default log group (unused: logs go to the named group).
        acknowledge_cdk_grants(
            self.role,
            f"CDK itself grants the pipeline artifact store and the {CACHE_PREFIX}/ cache object-wide, the key's "
            "data-key actions, and this project's report groups and default log group.",
            acknowledge_on=self,
        )
