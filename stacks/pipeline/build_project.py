"""A pipeline CodeBuild project: the playbook's log group, the environment's key, a pip cache and a narrow role."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra import iam_role
from infra.config import EnvironmentConfig
from infra.log_encryption import LogGroupKey
from infra.nag import acknowledge, imported_bucket_finding
from infra.naming import Naming
from stacks.storage_stack import StorageStack

# In the pipeline's working bucket (CodePipeline's artifact store), never in the Object Lock artifacts bucket.
CACHE_PREFIX = "pipelines/build-cache"
BUILD_IMAGE = codebuild.LinuxBuildImage.STANDARD_7_0
# What CDK grants a project in a pipeline: the artifact store and cache read/write (object-wide, with wildcard
# actions), the key, and its report groups and default log group (unused: logs go to the named group).
GRANTED_BY_CDK = (
    "Action::kms:GenerateDataKey*",
    "Action::kms:ReEncrypt*",
    "Action::s3:Abort*",
    "Action::s3:DeleteObject*",
    "Action::s3:GetBucket*",
    "Action::s3:GetObject*",
    "Action::s3:List*",
)


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
        statements: Sequence[iam.PolicyStatement],
        findings: Sequence[str],
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
        self.policy = iam.Policy(
            self,
            "Permissions",
            statements=[
                iam_role.ssm_read(Stack.of(self), naming),
                iam_role.kms_use(storage.key, encrypt=True),
                *statements,
            ],
        )
        self.policy.attach_to_role(self.role)
        self._acknowledge(naming, storage, findings)

    def _acknowledge(self, naming: Naming, storage: StorageStack, findings: Sequence[str]) -> None:
        stack = Stack.of(self)
        project_ref = f"<{stack.get_logical_id(self.project.node.default_child)}>"
        partition_region_account = f"arn:<AWS::Partition>:{{service}}:{stack.region}:<AWS::AccountId>"
        acknowledge(
            self,
            "IAM5",
            f"SageMaker actions stop at {naming.prefix}-* resources (model packages: the group that trains them), "
            f"S3 at named prefixes, SSM at {naming.parameter_path}*. CDK itself grants the pipeline artifact store "
            f"and the {CACHE_PREFIX}/ cache object-wide, the key's data-key actions, and this project's report groups "
            "and default log group.",
            findings=[
                *findings,
                *GRANTED_BY_CDK,
                imported_bucket_finding(stack, storage.pipeline_bucket, "/*"),
                f"Resource::{partition_region_account.format(service='codebuild')}:report-group/{project_ref}-*",
                f"Resource::{partition_region_account.format(service='logs')}:log-group:/aws/codebuild/{project_ref}:*",
                f"Resource::{partition_region_account.format(service='ssm')}:parameter{naming.parameter_path}*",
            ],
        )
