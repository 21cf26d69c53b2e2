"""CloudWatch log groups encrypted with a customer managed KMS key that CloudWatch Logs may use for them alone.

One key per stack: a log group and the key statement that names it live in the same template, so no stack depends
on another for its logs. The key policy lets the regional CloudWatch Logs service principal use the key only under
the encryption context `kms:EncryptionContext:aws:logs:arn` = the ARN of one of the stack's own log groups
(docs/aws-behaviours.md, "CloudWatch Logs and KMS"). Writers (Lambda, CodeBuild, ECS, VPC flow logs) need no KMS
permission: CloudWatch Logs encrypts on ingestion with its own grant.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Aws, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import log_retention, removal_policy
from safedeploy.environment_config import EnvironmentConfig
from safedeploy.naming import Naming

ENCRYPTION_CONTEXT_KEY = "kms:EncryptionContext:aws:logs:arn"
# The documented statement grants kms:Encrypt*, Decrypt*, ReEncrypt*, GenerateDataKey* and Describe*; these are the
# key actions those patterns match (DescribeCustomKeyStores, the other Describe*, is not a key action).
LOGS_KEY_ACTIONS = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:GenerateDataKeyPair",
    "kms:GenerateDataKeyPairWithoutPlaintext",
    "kms:DescribeKey",
)


class LogGroupKey(Construct):
    """The KMS key of one stack's log groups; `log_group` creates a log group and adds it to the key's policy.

    The log groups keep the environment's retention and removal policy, and so does the key: a log group kept
    after its key is deleted could no longer be read.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, naming: Naming, env_config: EnvironmentConfig, purpose: str
    ) -> None:
        super().__init__(scope, construct_id)
        self._removal = removal_policy(env_config)
        self._retention = log_retention(env_config.pipeline)
        self._log_group_arns: list[str] = []
        self.key = kms.Key(
            self,
            "Key",
            alias=f"alias/{naming.resource(purpose)}-logs",
            description=f"Encrypts the CloudWatch log groups of {naming.resource(purpose)}",
            enable_key_rotation=True,
            removal_policy=self._removal,
        )
        self._statement = iam.PolicyStatement(
            sid="CloudWatchLogsForTheseLogGroupsOnly",
            actions=list(LOGS_KEY_ACTIONS),
            principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com")],
            resources=["*"],
        )
        self.key.add_to_resource_policy(self._statement)

    def log_group(self, scope: Construct, construct_id: str, *, log_group_name: str) -> logs.LogGroup:
        """A log group encrypted with this key; CloudWatch Logs may use the key for it (and the others) only."""
        log_group = logs.LogGroup(
            scope,
            construct_id,
            log_group_name=log_group_name,
            encryption_key=self.key,
            retention=self._retention,
            removal_policy=self._removal,
        )
        # The encryption context names the log group's ARN without the ":*" that CloudFormation's Arn attribute has.
        self._log_group_arns.append(
            Stack.of(self).format_arn(
                service="logs",
                resource="log-group",
                resource_name=log_group_name,
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
        )
        self._statement.add_condition("ArnEquals", {ENCRYPTION_CONTEXT_KEY: list(self._log_group_arns)})
        return log_group
