"""The environment's drift job: an hourly schedule, the Lambda that runs the check, and the one drift alarm.

The alarm is named under the environment's prefix, so the ops topic hears it through the same alarm-state rule as
every other alarm of the environment (see notifications.py); no SageMaker Model Monitor resource is involved.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra import iam_role
from infra.grants import Grant, grant_to
from infra.log_encryption import LogGroupKey
from infra.runtime_function import RuntimeFunction, RuntimeLayer
from safedeploy.drift.store import DEGRADED_METRIC, DRIFT_NAMESPACE, DRIFTED_METRIC, state_keys
from safedeploy.environment_config import EnvironmentConfig
from safedeploy.naming import DRIFT_ALARM, DRIFT_SCHEDULE, QUALITY_ALARM, Function, Naming
from safedeploy.s3_layout import DRIFT_DECISIONS, EVALUATION, MODELS, histograms_root
from stacks.pipeline.promotion import served_package_group
from stacks.storage_stack import StorageStack

# Artifacts bucket: read the baselines (models/) and evaluation reports (evaluation/), write the records.
READ_PREFIXES, WRITE_PREFIXES = [MODELS, EVALUATION], [DRIFT_DECISIONS]


class DriftJob(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        naming: Naming,
        env_config: EnvironmentConfig,
        storage: StorageStack,
    ) -> None:
        super().__init__(scope, construct_id)
        settings = env_config.drift
        self.function = RuntimeFunction(
            self,
            "DriftCheck",
            naming=naming,
            function=Function.DRIFT_CHECK,
            layer=RuntimeLayer(self, "Runtime"),
            description="Hourly: production histograms of the live model against its training baseline -> drift",
            timeout_seconds=120,
            memory_size=512,
            log_key=LogGroupKey(self, "LogKey", naming=naming, env_config=env_config, purpose="drift"),
            environment={
                "ARTIFACTS_BUCKET": storage.artifacts_bucket.bucket_name,
                "DRIFT_BUCKET": storage.drift_bucket.bucket_name,
                "ENDPOINT_NAME": naming.endpoint,
                "DRIFT_ALPHA": str(settings.alpha),
                "DRIFT_PERIOD_LOOKS": str(settings.period_looks),
                "DRIFT_SENSITIVITY": str(settings.sensitivity),
                "DRIFT_ACCURACY_MARGIN": str(settings.accuracy_margin),
            },
        )
        stack = Stack.of(self)
        # The live package is a version of the group this environment serves (prod's: dev's group).
        packages = served_package_group(self, naming, env_config)
        histograms = histograms_root(naming.endpoint).rstrip("/")
        grant_to(
            self.function.role,
            iam_role.s3_objects(storage.artifacts_bucket, READ_PREFIXES),
            iam_role.s3_objects(storage.artifacts_bucket, WRITE_PREFIXES, write=True),
            # Drift bucket: read and list the endpoint's histograms; read and replace the check's two state files.
            iam_role.s3_objects(storage.drift_bucket, [histograms]),
            iam_role.s3_keys(storage.drift_bucket, state_keys(naming.endpoint), ["s3:GetObject", "s3:PutObject"]),
            # Whether a state file exists yet is asked by listing its exact key (a GET of a missing key is a 403).
            Grant.of(
                iam.PolicyStatement(
                    actions=["s3:ListBucket"],
                    resources=[storage.drift_bucket.bucket_arn],
                    conditions={"StringEquals": {"s3:prefix": list(state_keys(naming.endpoint))}},
                )
            ),
            iam_role.kms_use(storage.key, encrypt=True),
            iam_role.sagemaker_actions(
                stack, naming, ["sagemaker:DescribeEndpoint", "sagemaker:ListTags"], ["endpoint"]
            ),
            iam_role.model_packages(stack, packages, ["sagemaker:DescribeModelPackage"]),
            iam_role.put_metric_data([DRIFT_NAMESPACE]),
            iam_role.unscoped(
                ["cloudwatch:ListMetrics", "cloudwatch:GetMetricStatistics"],
                "cloudwatch:ListMetrics and GetMetricStatistics have no resource-level permissions ('*').",
            ),
        )
        self.schedule = events.Rule(
            self,
            "Schedule",
            rule_name=naming.resource(DRIFT_SCHEDULE),
            description=f"Runs the drift check every {settings.schedule_minutes} minutes",
            schedule=events.Schedule.rate(Duration.minutes(settings.schedule_minutes)),
            targets=[targets.LambdaFunction(self.function.function, retry_attempts=2)],
        )
        self.metric = cloudwatch.Metric(
            namespace=DRIFT_NAMESPACE,
            metric_name=DRIFTED_METRIC,
            dimensions_map={"EndpointName": naming.endpoint},
            statistic="Maximum",
            period=Duration.minutes(settings.schedule_minutes),
        )
        self.alarm = cloudwatch.Alarm(
            self,
            "DriftAlarm",
            alarm_name=naming.resource(DRIFT_ALARM),
            alarm_description="A feature or the prediction score of the live model drifted from its training "
            f"baseline (false alarms <= {settings.alpha} per {settings.period_days} days); "
            f"see `safedeploy drift --env {naming.env}`",
            metric=self.metric,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.quality_alarm = cloudwatch.Alarm(
            self,
            "QualityAlarm",
            alarm_name=naming.resource(QUALITY_ALARM),
            alarm_description="The live model's accuracy from gateway feedback fell more than "
            f"{settings.accuracy_margin} below its registered evaluation (always-valid test at {settings.alpha})",
            metric=cloudwatch.Metric(
                namespace=DRIFT_NAMESPACE,
                metric_name=DEGRADED_METRIC,
                dimensions_map={"EndpointName": naming.endpoint},
                statistic="Maximum",
                period=Duration.minutes(settings.schedule_minutes),
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )


def drift_widgets(naming: Naming, job: DriftJob) -> list[cloudwatch.IWidget]:
    """The drift alarm, and per column its PSI and always-valid p-value (SEARCH, so new columns appear)."""
    columns = f'{{{DRIFT_NAMESPACE},EndpointName,Column}} EndpointName="{naming.endpoint}"'
    hour = Duration.minutes(60)

    def search(metric: str) -> cloudwatch.MathExpression:
        return cloudwatch.MathExpression(
            expression=f"SEARCH('{columns} MetricName=\"{metric}\"', 'Maximum', 3600)",
            label="",
            period=hour,
            using_metrics={},
        )

    return [
        cloudwatch.AlarmStatusWidget(
            title="Drift and model-quality alarms", alarms=[job.alarm, job.quality_alarm], width=24, height=2
        ),
        cloudwatch.GraphWidget(
            title="Drift: PSI per column (0.1 moderate, 0.25 major)", left=[search("DriftPSI")], width=12, height=6
        ),
        cloudwatch.GraphWidget(
            title="Drift: always-valid p-value per column; drifted columns",
            left=[search("DriftPValue")],
            right=[job.metric],
            width=12,
            height=6,
        ),
    ]
