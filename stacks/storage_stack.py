"""Stateful base of an environment: KMS key, buckets, model registry, SageMaker execution role, SSM parameters.

Everything stateful lives here so that the stateless stacks (pipeline, guardrails, serving, monitoring) can be
replaced freely, and so that prod's retention and termination protection apply to one place.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra import iam_role
from infra.config import EnvironmentConfig
from infra.nag import acknowledge, arn_finding
from infra.naming import Naming
from safedeploy.parameters import Param

# Prefixes the SageMaker execution role may use; the pipeline's CodeBuild roles use the same layout.
DATA_PREFIXES = ("datasets", "feature-store")
ARTIFACT_PREFIXES = ("models", "evaluation", "pipelines", "decisions")
# The example model's record layout in the optional Feature Group (see ml/).
FEATURE_GROUP_FEATURES = ("record_id", "event_time", *(f"f{index}" for index in range(8)), "label")


class StorageStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        naming: Naming,
        env_config: EnvironmentConfig,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, termination_protection=env_config.termination_protection, **kwargs)
        self.naming = naming
        removal = RemovalPolicy.RETAIN if env_config.removal_policy == "retain" else RemovalPolicy.DESTROY
        auto_delete = removal == RemovalPolicy.DESTROY

        self.key = kms.Key(
            self,
            "Key",
            alias=f"alias/{naming.prefix}",
            description=f"Encrypts {naming.prefix} data, artifacts, logs and notifications",
            enable_key_rotation=True,
            removal_policy=removal,
        )
        self.access_logs_bucket = s3.Bucket(
            self,
            "AccessLogs",
            # S3 server access logging delivers only to buckets with SSE-S3 encryption.
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[
                s3.LifecycleRule(expiration=Duration.days(365), noncurrent_version_expiration=Duration.days(30))
            ],
            removal_policy=removal,
            auto_delete_objects=auto_delete,
        )
        acknowledge(
            self.access_logs_bucket,
            "S1",
            "This bucket is the server-access-log target of the other buckets; logging it to itself would loop.",
        )
        self.data_bucket = self._encrypted_bucket("Data", "data", removal)
        self.artifacts_bucket = self._encrypted_bucket("Artifacts", "artifacts", removal)

        self.model_package_group = sagemaker.CfnModelPackageGroup(
            self,
            "ModelPackageGroup",
            model_package_group_name=naming.model_package_group,
            model_package_group_description=f"Models trained by the {naming.prefix} pipeline",
        )
        self.model_package_group.apply_removal_policy(removal)

        # An environment promoted to serves copies in its own bucket (made and verified by its Deploy), so its
        # execution role reads nothing of the environment it was promoted from.
        self.execution_role = self._execution_role()
        self.feature_group_name = self._feature_group(env_config, removal)
        self._publish_parameters()

    def _encrypted_bucket(self, construct_id: str, log_prefix: str, removal: RemovalPolicy) -> s3.Bucket:
        return s3.Bucket(
            self,
            construct_id,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix=f"{log_prefix}/",
            lifecycle_rules=[s3.LifecycleRule(noncurrent_version_expiration=Duration.days(90))],
            removal_policy=removal,
            auto_delete_objects=removal == RemovalPolicy.DESTROY,
        )

    def _execution_role(self) -> iam.Role:
        role = iam.Role(
            self,
            "SageMakerExecutionRole",
            role_name=self.naming.resource("sagemaker-execution"),
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="Runs this environment's training, processing and endpoint containers",
        )
        statements = [
            *iam_role.s3_objects(self.data_bucket, DATA_PREFIXES, write=True),
            *iam_role.s3_objects(self.artifacts_bucket, ARTIFACT_PREFIXES, write=True),
            iam_role.kms_use(self.key, encrypt=True),
            iam_role.log_group_write(self, "/aws/sagemaker/"),
            iam_role.ecr_auth_token(),
            iam_role.ecr_pull(
                [self.format_arn(service="ecr", account="*", resource="repository", resource_name="sagemaker-*")]
            ),
            # SageMaker reads the auto-rollback alarms of a deployment through this role.
            iam_role.describe_alarms(self, self.naming),
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/*"]}},
            ),
        ]
        policy = iam.Policy(self, "SageMakerExecutionPolicy", statements=statements)
        policy.attach_to_role(role)
        acknowledge(
            policy,
            "IAM5",
            "Wildcards stop at this environment's bucket prefixes, /aws/sagemaker/* log groups and its own alarms; "
            "ecr:GetAuthorizationToken and cloudwatch:PutMetricData accept no resource (the latter is narrowed by a "
            "namespace condition); SageMaker prebuilt images live in AWS-owned accounts: sagemaker-* in any account.",
            findings=[
                *(arn_finding(self.data_bucket, f"/{prefix}/*") for prefix in DATA_PREFIXES),
                *(arn_finding(self.artifacts_bucket, f"/{prefix}/*") for prefix in ARTIFACT_PREFIXES),
                f"Resource::arn:<AWS::Partition>:logs:{self.region}:<AWS::AccountId>:log-group:/aws/sagemaker/*",
                f"Resource::arn:<AWS::Partition>:ecr:{self.region}:*:repository/sagemaker-*",
                f"Resource::arn:<AWS::Partition>:cloudwatch:{self.region}:<AWS::AccountId>:alarm:{self.naming.prefix}-*",
                "Resource::*",
            ],
        )
        return role

    def _feature_group(self, env_config: EnvironmentConfig, removal: RemovalPolicy) -> str | None:
        settings = env_config.feature_store
        if not settings.enable_feature_group:
            return None
        if settings.use_existing_feature_group:
            return settings.feature_group_name
        name = settings.feature_group_name or self.naming.resource("features")
        group = sagemaker.CfnFeatureGroup(
            self,
            "FeatureGroup",
            feature_group_name=name,
            record_identifier_feature_name="record_id",
            event_time_feature_name="event_time",
            feature_definitions=[
                sagemaker.CfnFeatureGroup.FeatureDefinitionProperty(
                    feature_name=feature,
                    feature_type="String" if feature in ("record_id", "event_time") else "Fractional",
                )
                for feature in FEATURE_GROUP_FEATURES
            ],
            offline_store_config={
                "S3StorageConfig": {
                    "S3Uri": self.data_bucket.s3_url_for_object("feature-store"),
                    "KmsKeyId": self.key.key_arn,
                }
            },
            role_arn=self.execution_role.role_arn,
            description=f"Training records of {self.naming.prefix}",
        )
        group.apply_removal_policy(removal)
        return name

    def _publish_parameters(self) -> None:
        values = {
            Param.DATA_BUCKET: self.data_bucket.bucket_name,
            Param.ARTIFACTS_BUCKET: self.artifacts_bucket.bucket_name,
            Param.KMS_KEY_ARN: self.key.key_arn,
            Param.MODEL_PACKAGE_GROUP: self.naming.model_package_group,
            Param.SAGEMAKER_EXECUTION_ROLE_ARN: self.execution_role.role_arn,
            Param.ENDPOINT_NAME: self.naming.endpoint,
            Param.PIPELINE_NAME: self.naming.pipeline,
        }
        if self.feature_group_name:
            values[Param.FEATURE_GROUP_NAME] = self.feature_group_name
        for key, value in values.items():
            ssm.StringParameter(
                self,
                f"Param-{key.value}",
                parameter_name=self.naming.parameter(key),
                string_value=value,
                description=f"{key.value} of {self.naming.prefix}, read by the runtime instead of literals",
            )
