"""Drift and model quality of an environment's live model: the scheduled job, its alarms, its dashboard row.

A stack of its own, so it can be changed or removed without touching the ops topic or a deployment in progress;
its alarms reach the ops topic through the monitoring stack's alarm-state rule (they share the name prefix).
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from safedeploy.environment_config import EnvironmentConfig
from safedeploy.naming import Naming
from stacks.monitoring.drift import DriftJob, drift_widgets
from stacks.storage_stack import StorageStack


class DriftStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        naming: Naming,
        env_config: EnvironmentConfig,
        storage: StorageStack,
        dashboard: cloudwatch.Dashboard,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.job = DriftJob(self, "Drift", naming=naming, env_config=env_config, storage=storage)
        dashboard.add_widgets(*drift_widgets(naming, self.job))
