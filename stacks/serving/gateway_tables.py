"""The gateway's DynamoDB tables and the KMS key that encrypts them.

- API keys (`key_id`): the SHA-256 of each key, its scopes and status; written by `safedeploy api-key`, read by
  the gateway. Point-in-time recovery everywhere: losing it locks every caller out.
- Feedback (`prediction_key`): one item per prediction id that received feedback, written with a conditional put so
  that a replay fails; TTL `expires_at` = the id's lifetime. Point-in-time recovery in production.
Both on demand: traffic is bursty and the tables are small.
"""

from __future__ import annotations

from aws_cdk import Aws, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra.grants import Grant, grant_to
from infra.nag import acknowledge
from safedeploy.environment_config import EnvironmentConfig
from safedeploy.naming import Naming
from safedeploy.parameters import Param

API_KEYS_PARTITION_KEY = "key_id"
FEEDBACK_PARTITION_KEY = "prediction_key"
FEEDBACK_TTL_ATTRIBUTE = "expires_at"


class GatewayTables(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        naming: Naming,
        env_config: EnvironmentConfig,
        removal: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self._production = env_config.is_production
        self._removal = removal
        self.key = kms.Key(
            self,
            "Key",
            alias=f"alias/{naming.resource('gateway')}",
            description=f"Encrypts the {naming.prefix} gateway's API keys and feedback records",
            enable_key_rotation=True,
            removal_policy=removal,
        )
        self.api_keys = self._table("ApiKeys", naming.api_keys_table, API_KEYS_PARTITION_KEY)
        self.feedback = self._table(
            "Feedback",
            naming.feedback_table,
            FEEDBACK_PARTITION_KEY,
            recovery=env_config.is_production,
            time_to_live=FEEDBACK_TTL_ATTRIBUTE,
        )
        if not env_config.is_production:
            acknowledge(
                self.feedback,
                "DDB3",
                "Outside production the feedback records are test traffic that expires with its prediction ids "
                "(TTL); point-in-time recovery is on in production.",
            )
        for key, table in (
            (Param.GATEWAY_API_KEYS_TABLE, self.api_keys),
            (Param.GATEWAY_FEEDBACK_TABLE, self.feedback),
        ):
            ssm.StringParameter(
                self,
                f"{key.name.title().replace('_', '')}Parameter",
                parameter_name=naming.parameter(key),
                string_value=table.table_name,
            )

    def _table(
        self, construct_id: str, name: str, partition_key: str, recovery: bool = True, time_to_live: str | None = None
    ) -> dynamodb.TableV2:
        """On demand, encrypted with the gateway key, protected from deletion in production."""
        return dynamodb.TableV2(
            self,
            construct_id,
            table_name=name,
            partition_key=dynamodb.Attribute(name=partition_key, type=dynamodb.AttributeType.STRING),
            billing=dynamodb.Billing.on_demand(),
            encryption=dynamodb.TableEncryptionV2.customer_managed_key(self.key),
            time_to_live_attribute=time_to_live,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=recovery
            ),
            deletion_protection=self._production,
            removal_policy=self._removal,
        )

    def grant_gateway(self, role: iam.IRole) -> None:
        """Read keys, write feedback: the gateway never lists, updates or deletes either table."""
        grant_to(
            role,
            Grant.of(
                iam.PolicyStatement(actions=["dynamodb:GetItem"], resources=[self.api_keys.table_arn]),
                iam.PolicyStatement(actions=["dynamodb:PutItem"], resources=[self.feedback.table_arn]),
                iam.PolicyStatement(
                    actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                    resources=[self.key.key_arn],
                    conditions={"StringEquals": {"kms:ViaService": f"dynamodb.{Aws.REGION}.amazonaws.com"}},
                ),
            ),
        )
