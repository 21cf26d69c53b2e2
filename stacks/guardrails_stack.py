"""Deployment guardrails of an environment's endpoint: auto-rollback alarms and the canary analysis behind them.

The endpoint itself is created by the first deploy (no model exists at `cdk deploy` time), so this stack owns what a
deploy needs to be safe: the alarms SageMaker watches while it shifts traffic, the Lambda that turns per-fleet metrics
into a verdict every minute, and the published deployment settings that `safedeploy deploy` reads.
"""

from __future__ import annotations

import json

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra import iam_role
from infra.grants import Grant, grant_to
from infra.log_encryption import LogGroupKey
from infra.runtime_function import RuntimeFunction, RuntimeLayer
from safedeploy.canary.metrics import (
    ENDPOINT_DIMENSION,
    ERROR_RATE_5XX_ALARM,
    MODEL_LATENCY_ALARM,
    VARIANT_DIMENSION,
    RollbackAlarm,
)
from safedeploy.canary.metrics import ROLLBACK_ALARMS as METRIC_ALARMS
from safedeploy.canary.outputs import CANARY_NAMESPACE, VERDICT_DETAIL_TYPE, VERDICT_EVENT_SOURCE, VERDICT_METRIC
from safedeploy.environment_config import EnvironmentConfig
from safedeploy.guardrails.alarm_noise import ALARM_DATAPOINTS, ALARM_PERIODS
from safedeploy.guardrails.release_names import PRODUCTION_VARIANT
from safedeploy.guardrails.settings import DeploymentSettings, GuardrailParameter
from safedeploy.naming import Function, Naming
from safedeploy.parameters import Param
from safedeploy.s3_layout import DECISIONS, TRAFFIC_ACTIONS
from safedeploy.write_once import ROLLED_BACK_MARKS
from stacks.storage_stack import StorageStack

# Alarm names (after `<project>-<env>-`) that SageMaker watches during a deployment: the canary metrics' own
# (safedeploy/canary/metrics.py) and the verdict's.
ERROR_RATE_ALARM, LATENCY_ALARM, VERDICT_ALARM = ERROR_RATE_5XX_ALARM.name, MODEL_LATENCY_ALARM.name, "canary-verdict"
ROLLBACK_ALARMS = (*(alarm.name for alarm in METRIC_ALARMS), VERDICT_ALARM)
# The CanaryVerdict alarm watches FILL(verdict, 1): a minute the analysis published nothing for is a breaching point
# rather than a missing one, which CloudWatch would skip while enough real points remain in its evaluation range.
VERDICT_FILL_VALUE = 1
VERDICT_EXPRESSION = f"FILL(verdict, {VERDICT_FILL_VALUE})"


class GuardrailsStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        naming: Naming,
        env_config: EnvironmentConfig,
        storage: StorageStack,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.naming = naming
        settings: DeploymentSettings = env_config.endpoint
        self.alarms = self._rollback_alarms(settings)
        # The names as literals (the L1 property), so the published JSON is a plain string, not a token join.
        self.alarm_names = [alarm.node.default_child.alarm_name for alarm in self.alarms]
        layer = RuntimeLayer(self, "Runtime")
        self.log_key = LogGroupKey(self, "LogKey", naming=naming, env_config=env_config, purpose="guardrails")
        self.canary_analysis = self._canary_analysis(layer, storage)
        self.traffic_shifter = self._traffic_shifter(layer, storage)
        ssm.StringParameter(
            self,
            "DeploymentConfigParameter",
            parameter_name=naming.parameter(Param.DEPLOYMENT_CONFIG),
            string_value=json.dumps(GuardrailParameter(settings=settings, alarm_names=self.alarm_names).to_dict()),
            description=f"Deployment strategy and auto-rollback alarms of {naming.endpoint}, read by safedeploy deploy",
        )

    def _metric_alarm(self, alarm: RollbackAlarm, settings: DeploymentSettings) -> cloudwatch.Alarm:
        return cloudwatch.Alarm(
            self,
            alarm.construct_id,
            alarm_name=self.naming.resource(alarm.name),
            alarm_description=alarm.description,
            metric=cloudwatch.Metric(
                namespace=alarm.metric.namespace,
                metric_name=alarm.metric.name,
                # Blue/green and rolling updates keep the variant name, so endpoint-wide alarms watch both fleets (per
                # SageMaker's alarm examples); the canary analysis separates the fleets by EndpointConfigName.
                dimensions_map={ENDPOINT_DIMENSION: self.naming.endpoint, VARIANT_DIMENSION: PRODUCTION_VARIANT},
                statistic=alarm.stat,
                period=Duration.minutes(1),
            ),
            threshold=alarm.threshold.of(settings.alarms),
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=ALARM_PERIODS,
            datapoints_to_alarm=ALARM_DATAPOINTS,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def _rollback_alarms(self, settings: DeploymentSettings) -> list[cloudwatch.Alarm]:
        verdict = cloudwatch.Metric(
            namespace=CANARY_NAMESPACE,
            metric_name=VERDICT_METRIC,
            dimensions_map={ENDPOINT_DIMENSION: self.naming.endpoint},
            statistic="Maximum",
            period=Duration.minutes(1),
        )
        return [
            *(self._metric_alarm(alarm, settings) for alarm in METRIC_ALARMS),
            cloudwatch.Alarm(
                self,
                "CanaryVerdictAlarm",
                alarm_name=self.naming.resource(VERDICT_ALARM),
                alarm_description=(
                    "1 = the canary analysis found the candidate harmful. A minute without a verdict counts as 1 "
                    f"({VERDICT_EXPRESSION}) and missing data is breaching: an analysis that stops or publishes "
                    "intermittently rolls the deployment back instead of letting an unexamined model through."
                ),
                metric=cloudwatch.MathExpression(
                    expression=VERDICT_EXPRESSION,
                    using_metrics={"verdict": verdict},
                    period=Duration.minutes(1),
                    label="CanaryVerdict, a minute without a verdict as 1",
                ),
                threshold=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                evaluation_periods=ALARM_PERIODS,
                datapoints_to_alarm=ALARM_DATAPOINTS,
                treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
            ),
        ]

    def _grant_common(self, function: RuntimeFunction, storage: StorageStack, records: str) -> None:
        """Both functions read the decision records; each writes only its own write-once `records` prefix."""
        grant_to(
            function.role,
            iam_role.ssm_read(self, self.naming),
            iam_role.s3_objects(storage.artifacts_bucket, [DECISIONS]),
            iam_role.s3_objects(storage.artifacts_bucket, [records], write=True),
            iam_role.kms_use(storage.key, encrypt=True),
            iam_role.sagemaker_actions(
                self,
                self.naming,
                ["sagemaker:DescribeEndpoint", "sagemaker:DescribeEndpointConfig", "sagemaker:ListTags"],
                ["endpoint", "endpoint-config"],
            ),
        )

    def _canary_analysis(self, layer: RuntimeLayer, storage: StorageStack) -> RuntimeFunction:
        function = RuntimeFunction(
            self,
            "CanaryAnalysis",
            naming=self.naming,
            function=Function.CANARY_ANALYSIS,
            layer=layer,
            description="Every minute: per-fleet metrics of a running deployment -> canary verdict -> CanaryVerdict",
            timeout_seconds=50,
            memory_size=1024,
            log_key=self.log_key,
        )
        self._grant_common(function, storage, DECISIONS)
        grant_to(
            function.role,
            iam_role.unscoped(
                ["cloudwatch:GetMetricData"], "cloudwatch:GetMetricData has no resource-level permissions ('*')."
            ),
            iam_role.put_metric_data([CANARY_NAMESPACE]),
            Grant.of(
                iam.PolicyStatement(
                    actions=["events:PutEvents"],
                    resources=[self.format_arn(service="events", resource="event-bus", resource_name="default")],
                )
            ),
        )
        events.Rule(
            self,
            "EveryMinute",
            description="Runs the canary analysis; it returns at once when no deployment is in progress",
            schedule=events.Schedule.rate(Duration.minutes(1)),
            targets=[targets.LambdaFunction(function.function, retry_attempts=0)],
        )
        return function

    def _traffic_shifter(self, layer: RuntimeLayer, storage: StorageStack) -> RuntimeFunction:
        function = RuntimeFunction(
            self,
            "TrafficShifter",
            naming=self.naming,
            function=Function.TRAFFIC_SHIFTER,
            layer=layer,
            description="Moves A/B weights or ends a shadow test on verdicts it verified against their records",
            timeout_seconds=60,
            log_key=self.log_key,
        )
        self._grant_common(function, storage, TRAFFIC_ACTIONS)
        grant_to(
            function.role,
            iam_role.sagemaker_actions(
                self,
                self.naming,
                [
                    "sagemaker:UpdateEndpoint",
                    "sagemaker:UpdateEndpointWeightsAndCapacities",
                    "sagemaker:CreateEndpointConfig",
                    "sagemaker:AddTags",
                ],
                ["endpoint", "endpoint-config"],
            ),
            # An experiment ended by a ROLLBACK verdict marks its package: a new write-once mark under rolled-back/
            # (marks alone: an override or a clearing is an operator's).
            iam_role.s3_keys(storage.artifacts_bucket, [ROLLED_BACK_MARKS], ["s3:PutObject"]),
        )
        events.Rule(
            self,
            "OnVerdict",
            description="Canary verdicts of this endpoint reach the traffic shifter, which acts on verified ones only",
            event_pattern=events.EventPattern(
                source=[VERDICT_EVENT_SOURCE],
                detail_type=[VERDICT_DETAIL_TYPE],
                detail={"endpoint_name": [self.naming.endpoint]},
            ),
            targets=[targets.LambdaFunction(function.function, retry_attempts=2)],
        )
        return function
