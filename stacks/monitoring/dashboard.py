"""The environment's one dashboard, top to bottom in the order an operator reads a release: pipeline, endpoint,
canary, gateway. Per-variant and per-metric series use SEARCH expressions, so variants and guarded metrics that
appear later (an A/B candidate `v<N>`, accuracy) show up without a redeploy.

During a blue/green or rolling update both fleets share the variant name; SageMaker tells them apart by the
`EndpointConfigName` dimension, so the per-fleet widgets search that dimension set and show one series per config
(old and new fleet) while a deployment runs, and nothing otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_events as events
from constructs import Construct

from infra.naming import Naming
from safedeploy.canary.outputs import CANARY_NAMESPACE, VERDICT_METRIC

MINUTE = Duration.minutes(1)
WIDTH = 12


def _search(expression: str, statistic: str, label: str) -> cloudwatch.MathExpression:
    return cloudwatch.MathExpression(
        expression=f"SEARCH('{expression}', '{statistic}', 60)", label=label, period=MINUTE, using_metrics={}
    )


def _graph(
    title: str, left: Sequence[cloudwatch.IMetric], right: Sequence[cloudwatch.IMetric] = ()
) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(title=title, left=list(left), right=list(right), width=WIDTH, height=6)


def _rule_invocations(rule: events.Rule, label: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace="AWS/Events",
        metric_name="TriggeredRules",
        dimensions_map={"RuleName": rule.rule_name},
        statistic="Sum",
        period=Duration.hours(1),
        label=label,
    )


def build_dashboard(
    scope: Construct,
    naming: Naming,
    *,
    pipeline_events: Mapping[str, events.Rule],
    alarms: Sequence[cloudwatch.IAlarm],
    load_balancer: elbv2.ApplicationLoadBalancer,
    target_group: elbv2.ApplicationTargetGroup,
    service: ecs.FargateService,
) -> cloudwatch.Dashboard:
    endpoint = naming.endpoint
    sagemaker = f'{{AWS/SageMaker,EndpointName,VariantName}} EndpointName="{endpoint}"'
    fleets = f'{{AWS/SageMaker,EndpointConfigName,EndpointName,VariantName}} EndpointName="{endpoint}"'
    canary = f'{{{CANARY_NAMESPACE},EndpointName,Metric}} EndpointName="{endpoint}"'
    dashboard = cloudwatch.Dashboard(scope, "Dashboard", dashboard_name=naming.resource("operations"))
    dashboard.add_widgets(
        cloudwatch.TextWidget(
            markdown=f"# {naming.prefix}\nPipeline `{naming.pipeline}`, endpoint `{endpoint}`. "
            f"Shell: `safedeploy status --env {naming.env}`; rollback: `safedeploy rollback --env {naming.env}`.",
            width=24,
            height=2,
        ),
        cloudwatch.AlarmStatusWidget(title="Rollback alarms", alarms=list(alarms), width=24, height=3),
        _graph(
            "Pipeline executions succeeded and failed, approvals requested (per hour)",
            [_rule_invocations(rule, label) for label, rule in pipeline_events.items()],
        ),
        _graph(
            "Endpoint invocations and errors per variant",
            [_search(f'{sagemaker} MetricName="Invocations"', "Sum", "")],
            [
                _search(f'{sagemaker} MetricName="Invocation4XXErrors"', "Sum", ""),
                _search(f'{sagemaker} MetricName="Invocation5XXErrors"', "Sum", ""),
            ],
        ),
        # SageMaker documents ModelLatency's statistics as Average, Sum, Min, Max and Sample Count (no percentiles).
        _graph(
            "Model latency per variant (microseconds): average and maximum",
            [
                _search(f'{sagemaker} MetricName="ModelLatency"', "Average", ""),
                _search(f'{sagemaker} MetricName="ModelLatency"', "Maximum", ""),
            ],
        ),
        _graph(
            "Blue/green fleets during a deployment (per EndpointConfigName): invocations and 5xx errors",
            [_search(f'{fleets} MetricName="Invocations"', "Sum", "")],
            [_search(f'{fleets} MetricName="Invocation5XXErrors"', "Sum", "")],
        ),
        _graph(
            "Blue/green fleets during a deployment (per EndpointConfigName): average model latency (microseconds)",
            [_search(f'{fleets} MetricName="ModelLatency"', "Average", "")],
        ),
        _graph(
            "Canary: harm statistic against its boundary, per guarded metric; verdict (1 = roll back)",
            [
                _search(f'{canary} MetricName="CanaryStatistic"', "Maximum", ""),
                _search(f'{canary} MetricName="CanaryBoundary"', "Maximum", ""),
            ],
            [
                cloudwatch.Metric(
                    namespace=CANARY_NAMESPACE,
                    metric_name=VERDICT_METRIC,
                    dimensions_map={"EndpointName": endpoint},
                    statistic="Maximum",
                    period=MINUTE,
                )
            ],
        ),
        _graph(
            "Gateway: requests and target response time",
            [load_balancer.metrics.request_count(period=MINUTE)],
            [target_group.metrics.target_response_time(period=MINUTE, statistic="p99")],
        ),
        _graph(
            "Gateway: healthy tasks, CPU and memory",
            [target_group.metrics.healthy_host_count(period=MINUTE)],
            [service.metric_cpu_utilization(period=MINUTE), service.metric_memory_utilization(period=MINUTE)],
        ),
    )
    return dashboard
