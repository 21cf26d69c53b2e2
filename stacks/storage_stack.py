"""Stateful base of an environment: KMS key, buckets, model registry, SageMaker execution role, SSM parameters.

Everything stateful lives here so that the stateless stacks (pipeline, guardrails, serving, monitoring) can be
replaced freely, and so that prod's retention and termination protection apply to one place.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import CfnResource, Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra import iam_role
from infra.config import removal_policy
from infra.grants import grant_policy, grant_to
from infra.nag import acknowledge
from safedeploy.build_steps.model_plugin import ModelPlugin
from safedeploy.drift.store import HISTOGRAM_DAYS
from safedeploy.environment_config import ConnectionSource, EnvironmentConfig
from safedeploy.naming import ROLE_TAG, Function, Naming
from safedeploy.parameters import Param
from safedeploy.s3_layout import EVALUATION, MODELS, PIPELINES, histograms_root
from safedeploy.serving_contract import ServingContract
from safedeploy.source_record import SourceRecord
from safedeploy.write_once import IMMUTABLE_PREFIXES, OPERATOR_RECORDS, RECORD_WRITERS
from stacks.pipeline.promotion import repository_name

# Prefixes the SageMaker execution role may use; the pipeline's CodeBuild roles use the same layout. It reads the
# approved models and reports, and writes only its jobs' scratch space: models/ and decisions/ are not its to write.
DATA_PREFIXES = ("datasets", "feature-store")
SAGEMAKER_READ_PREFIXES = (MODELS, EVALUATION)
SAGEMAKER_WRITE_PREFIXES = (PIPELINES,)
# CDK's auto-delete-objects provider (dev: removal_policy destroy) empties the bucket when the stack is destroyed.
AUTO_DELETE_PROVIDER = "Custom::S3AutoDeleteObjectsCustomResourceProvider"
# The optional Feature Group's records: an id, an event time, the model's request columns and the label.
RECORD_ID, EVENT_TIME, LABEL = "record_id", "event_time", "label"


class StorageStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        naming: Naming,
        env_config: EnvironmentConfig,
        model: ModelPlugin,
        **kwargs,
    ) -> None:
        """`model`: the plug-in: its custom serving container (if any) the execution role may pull, its serving
        contract is published for the smoke tests and its columns make the Feature Group's."""
        super().__init__(scope, construct_id, termination_protection=env_config.termination_protection, **kwargs)
        self.naming = naming
        removal = removal_policy(env_config)
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
        # Object Lock (prod) only where nothing but this project's own code writes: S3 refuses an upload to a bucket
        # with a default retention unless it carries Content-MD5 or a checksum, which boto3 sends and nothing
        # documents CodePipeline or CodeBuild sending; and every version there is kept for the retention period.
        self.artifacts_bucket = self._encrypted_bucket(
            "Artifacts", "artifacts", removal, lock_days=env_config.artifact_lock_days
        )
        # CodePipeline's artifact store and CodeBuild's cache: transient, written by AWS services, never locked.
        self.pipeline_bucket = self._encrypted_bucket("PipelineWork", "pipeline-work", removal)
        # The drift check's working data: the gateway's histograms (expired once no reader looks back that far) and
        # the check's hourly-replaced state. Its own bucket, not the pipeline's, whose every build role may write.
        self.drift_bucket = self._encrypted_bucket(
            "DriftWork",
            "drift-work",
            removal,
            noncurrent_days=1,
            expiring={histograms_root(naming.endpoint): HISTOGRAM_DAYS},
        )
        self._write_once_prefixes(self.artifacts_bucket, locked=env_config.artifact_lock_days > 0)
        self._tag_auto_delete_role()

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
        if model.serving.is_custom_container:
            repository = self.format_arn(
                service="ecr", resource="repository", resource_name=model.serving.image_repository
            )
            grant_to(self.execution_role, iam_role.ecr_pull([repository]))
        self.feature_group_name = self._feature_group(env_config, removal, model.contract.features)
        self._publish_parameters(env_config, model.contract)

    def _encrypted_bucket(
        self,
        construct_id: str,
        log_prefix: str,
        removal: RemovalPolicy,
        *,
        lock_days: int = 0,
        noncurrent_days: int = 90,
        expiring: Mapping[str, int] | None = None,
    ) -> s3.Bucket:
        """`lock_days` > 0: S3 Object Lock, every new object version retained that long (GOVERNANCE mode);
        `expiring`: key prefix -> days after which its objects expire."""
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
            lifecycle_rules=[
                # An expired current version leaves a delete marker in a versioned bucket: remove those too.
                s3.LifecycleRule(
                    noncurrent_version_expiration=Duration.days(noncurrent_days),
                    expired_object_delete_marker=True if expiring else None,
                ),
                *(
                    s3.LifecycleRule(prefix=prefix, expiration=Duration.days(days))
                    for prefix, days in (expiring or {}).items()
                ),
            ],
            object_lock_enabled=True if lock_days else None,
            object_lock_default_retention=s3.ObjectLockRetention.governance(Duration.days(lock_days))
            if lock_days
            else None,
            removal_policy=removal,
            auto_delete_objects=removal == RemovalPolicy.DESTROY,
        )

    def _write_once_prefixes(self, bucket: s3.Bucket, *, locked: bool) -> None:
        """Deny, to every principal, deleting or replacing what is under the write-once prefixes.

        Explicit denies in the bucket policy override any allow, including the object-wide `s3:DeleteObject*` CDK
        grants pipeline roles on their artifact store. Only the dev teardown (auto-delete) may still empty it.
        """
        objects = [bucket.arn_for_objects(f"{prefix}/*") for prefix in IMMUTABLE_PREFIXES]
        teardown = self._auto_delete_role_arn()
        except_teardown = {"ArnNotEquals": {"aws:PrincipalArn": teardown}} if teardown else {}
        statements = [
            iam.PolicyStatement(
                sid="DenyDeletingWriteOnceObjects",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:DeleteObject", "s3:DeleteObjectVersion"],
                resources=objects,
                conditions=except_teardown or None,
            ),
            # PutObject and CompleteMultipartUpload carry If-None-Match; CreateMultipartUpload and UploadPart
            # cannot, so they are exempt (s3:ObjectCreationOperation false) and the completion decides.
            iam.PolicyStatement(
                sid="DenyReplacingWriteOnceObjects",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:PutObject"],
                resources=objects,
                conditions={"Null": {"s3:if-none-match": "true"}, "Bool": {"s3:ObjectCreationOperation": "true"}},
            ),
            *(
                iam.PolicyStatement(
                    sid=f"Deny{prefix.title().replace('-', '')}FromOtherRoles",
                    effect=iam.Effect.DENY,
                    principals=[iam.AnyPrincipal()],
                    actions=["s3:PutObject"],
                    resources=[bucket.arn_for_objects(f"{prefix}/*")],
                    conditions={"ArnNotEquals": {"aws:PrincipalArn": [self.writer_role_arn(w) for w in writers]}},
                )
                for prefix, writers in RECORD_WRITERS.items()
            ),
            *self._operator_records_only(bucket),
        ]
        if locked:
            statements.append(
                iam.PolicyStatement(
                    sid="DenyBypassingObjectLock",
                    effect=iam.Effect.DENY,
                    principals=[iam.AnyPrincipal()],
                    actions=["s3:BypassGovernanceRetention"],
                    resources=[bucket.arn_for_objects("*")],
                )
            )
        for statement in statements:
            bucket.add_to_resource_policy(statement)

    def _operator_records_only(self, bucket: s3.Bucket) -> list[iam.PolicyStatement]:
        """Deny overrides and clearings of rolled-back marks to every role of the project, of any environment: by
        role name (`<project>-*`) and, since a name CloudFormation generates may be truncated off that prefix, by the
        tag every role of the project carries. Operators' own roles are neither."""
        records = [bucket.arn_for_objects(pattern) for pattern in OPERATOR_RECORDS]
        roles = self.format_arn(service="iam", region="", resource="role", resource_name=self.naming.project_roles)
        return [
            iam.PolicyStatement(
                sid=sid,
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:PutObject"],
                resources=records,
                conditions=condition,
            )
            for sid, condition in (
                ("DenyOperatorRecordsToProjectRoles", {"ArnLike": {"aws:PrincipalArn": roles}}),
                (
                    "DenyOperatorRecordsToProjectTagged",
                    {"StringEquals": {f"aws:PrincipalTag/{ROLE_TAG}": self.naming.project}},
                ),
            )
        ]

    def writer_role_arn(self, function: Function) -> str:
        """The role of this environment's `function` (RuntimeFunction names it like the function)."""
        return self.format_arn(service="iam", region="", resource="role", resource_name=self.naming.function(function))

    def _auto_delete_role(self) -> CfnResource | None:
        """The role of CDK's auto-delete provider (dev's teardown), if this stack has one."""
        provider = self.node.try_find_child(AUTO_DELETE_PROVIDER)
        if provider is None:
            return None
        role = provider.node.find_child("Role")
        assert isinstance(role, CfnResource), f"{AUTO_DELETE_PROVIDER} has no role resource"
        return role

    def _auto_delete_role_arn(self) -> str | None:
        role = self._auto_delete_role()
        return None if role is None else Token.as_string(role.get_att("Arn"))

    def _tag_auto_delete_role(self) -> None:
        """The provider's role is a plain CfnResource, which the stage's tags do not reach: a role of the project all
        the same, so it carries `ROLE_TAG` too."""
        role = self._auto_delete_role()
        if role is not None:
            role.add_property_override("Tags", [{"Key": ROLE_TAG, "Value": self.naming.project}])

    def _execution_role(self) -> iam.Role:
        role = iam.Role(
            self,
            "SageMakerExecutionRole",
            role_name=self.naming.resource("sagemaker-execution"),
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="Runs this environment's training, processing and endpoint containers",
        )
        grant_policy(
            self,
            "SageMakerExecutionPolicy",
            role,
            iam_role.s3_objects(self.data_bucket, DATA_PREFIXES, write=True),
            iam_role.s3_objects(self.artifacts_bucket, SAGEMAKER_READ_PREFIXES),
            iam_role.s3_objects(self.artifacts_bucket, SAGEMAKER_WRITE_PREFIXES, write=True),
            iam_role.kms_use(self.key, encrypt=True),
            iam_role.log_group_write(self, "/aws/sagemaker/"),
            iam_role.ecr_auth_token(),
            iam_role.ecr_pull(
                [self.format_arn(service="ecr", account="*", resource="repository", resource_name="sagemaker-*")]
            ).because("SageMaker prebuilt images live in AWS-owned accounts: repositories sagemaker-* in any account."),
            # SageMaker reads the auto-rollback alarms of a deployment through this role.
            iam_role.describe_alarms(self, self.naming),
            iam_role.put_metric_data(["/aws/sagemaker/*"], condition="StringLike"),
        )
        return role

    def _feature_group(
        self, env_config: EnvironmentConfig, removal: RemovalPolicy, features: tuple[str, ...]
    ) -> str | None:
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
            record_identifier_feature_name=RECORD_ID,
            event_time_feature_name=EVENT_TIME,
            feature_definitions=[
                sagemaker.CfnFeatureGroup.FeatureDefinitionProperty(
                    feature_name=feature,
                    feature_type="String" if feature in (RECORD_ID, EVENT_TIME) else "Fractional",
                )
                for feature in (RECORD_ID, EVENT_TIME, *features, LABEL)
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

    def _publish_parameters(self, env_config: EnvironmentConfig, contract: ServingContract) -> None:
        values = {
            Param.DATA_BUCKET: self.data_bucket.bucket_name,
            Param.ARTIFACTS_BUCKET: self.artifacts_bucket.bucket_name,
            Param.DRIFT_BUCKET: self.drift_bucket.bucket_name,
            Param.KMS_KEY_ARN: self.key.key_arn,
            Param.MODEL_PACKAGE_GROUP: self.naming.model_package_group,
            Param.SAGEMAKER_EXECUTION_ROLE_ARN: self.execution_role.role_arn,
            Param.ENDPOINT_NAME: self.naming.endpoint,
            Param.PIPELINE_NAME: self.naming.pipeline,
            Param.PIPELINE_SOURCE: _source_record(self.naming, env_config).to_json(),
            Param.SERVING_CONTRACT: contract.to_json(),
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


def _source_record(naming: Naming, env_config: EnvironmentConfig) -> SourceRecord:
    source, branch = env_config.pipeline.source, env_config.pipeline.branch
    if isinstance(source, ConnectionSource):
        return SourceRecord(
            kind=source.kind,
            repository=source.repository,
            branch=branch,
            provider=source.provider,
            connection_arn_parameter=source.connection_arn_parameter,
        )
    return SourceRecord(kind=source.kind, repository=repository_name(naming.project, naming.env), branch=branch)
