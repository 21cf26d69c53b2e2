"""Operating one environment: the dashboard, the ops topic, and the notifications that reach it.

Everything here only reads what the other stacks own (names, metrics, alarm ARNs), so the stack can be replaced
or removed without touching a deployment in progress.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_sns as sns
from constructs import Construct

from safedeploy.naming import Naming
from stacks.guardrails_stack import GuardrailsStack
from stacks.monitoring.dashboard import build_dashboard
from stacks.monitoring.notifications import (
    APPROVAL_WAITING,
    PIPELINE_FAILED,
    PIPELINE_SUCCEEDED,
    route_notifications,
)
from stacks.serving_stack import ServingStack
from stacks.storage_stack import StorageStack


class MonitoringStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        naming: Naming,
        storage: StorageStack,
        serving: ServingStack,
        guardrails: GuardrailsStack,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.topic = sns.Topic(
            self,
            "OpsTopic",
            topic_name=naming.resource("ops"),
            display_name=f"{naming.prefix} operations",
            master_key=storage.key,
            enforce_ssl=True,
        )
        self.rules = route_notifications(self, naming, self.topic)
        by_id = {rule.node.id: rule for rule in self.rules}
        pipeline_events = {
            "executions succeeded": by_id[PIPELINE_SUCCEEDED],
            "executions failed": by_id[PIPELINE_FAILED],
            "approvals requested": by_id[APPROVAL_WAITING],
        }
        self.dashboard = build_dashboard(
            self,
            naming,
            pipeline_events=pipeline_events,
            alarms=guardrails.alarms,
            load_balancer=serving.front_door.load_balancer,
            target_group=serving.target_group,
            service=serving.service,
        )
        CfnOutput(
            self,
            "DashboardUrl",
            value=f"https://{self.region}.console.aws.amazon.com/cloudwatch/home?region={self.region}"
            f"#dashboards/dashboard/{naming.resource('operations')}",
            description="CloudWatch dashboard of this environment (pipeline, endpoint, canary, gateway)",
        )
        CfnOutput(self, "OpsTopicArn", value=self.topic.topic_arn, description="Failures and alarms; subscribe on-call")
