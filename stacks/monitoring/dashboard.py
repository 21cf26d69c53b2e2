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

from safedeploy.canary.metric_names import CONFIG_DIMENSION, ENDPOINT_DIMENSION, VARIANT_DIMENSION
from safedeploy.canary.metrics import CANARY_METRICS, ENDPOINT_PANELS, CloudWatchMetric, Panel
from safedeploy.canary.outputs import CANARY_NAMESPACE, VERDICT_METRIC
from safedeploy.naming import Naming

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


def _panel(panel: Panel, title: str, dimensions: tuple[str, ...], endpoint: str) -> cloudwatch.GraphWidget:
    """A catalog panel: one SEARCH per (metric, statistic), over the endpoint's series under `dimensions`."""

    def searches(side: tuple[tuple[CloudWatchMetric, str], ...]) -> list[cloudwatch.IMetric]:
        return [_search(metric.search(dimensions, endpoint), stat, "") for metric, stat in side]

    return _graph(title, searches(panel.left), searches(panel.right))


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
    per_variant = (ENDPOINT_DIMENSION, VARIANT_DIMENSION)
    per_fleet = (CONFIG_DIMENSION, ENDPOINT_DIMENSION, VARIANT_DIMENSION)
    fleet_title = "Blue/green fleets during a deployment (per EndpointConfigName): "
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
        *(_panel(panel, panel.title, per_variant, endpoint) for panel in ENDPOINT_PANELS),
        *(
            _panel(metric.fleet_panel, fleet_title + metric.fleet_panel.title, per_fleet, endpoint)
            for metric in CANARY_METRICS
            if metric.fleet_panel is not None
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
                    dimensions_map={ENDPOINT_DIMENSION: endpoint},
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
