"""One environment of the platform: its stacks, composed in dependency order."""

from __future__ import annotations

from aws_cdk import Environment, Stage, Tags
from constructs import Construct

from infra.checkov_baseline import apply_checkov_baseline
from safedeploy.build_steps.model_plugin import ModelPlugin
from safedeploy.environment_config import EnvironmentConfig
from safedeploy.naming import ROLE_TAG, Naming, StackPurpose
from stacks.drift_stack import DriftStack
from stacks.guardrails_stack import GuardrailsStack
from stacks.monitoring_stack import MonitoringStack
from stacks.pipeline_stack import PipelineStack
from stacks.serving_stack import ServingStack
from stacks.storage_stack import StorageStack


class EnvironmentStage(Stage):
    """Stage `<project>-<env>`, so `cdk deploy "<project>-<env>/*"` deploys exactly one environment."""

    def __init__(self, scope: Construct, *, project: str, env_config: EnvironmentConfig, model: ModelPlugin) -> None:
        naming = Naming(project, env_config.name)
        self.naming = naming
        super().__init__(
            scope,
            naming.prefix,
            env=Environment(account=env_config.account or None, region=env_config.region),
        )
        Tags.of(self).add("project", project)
        Tags.of(self).add("environment", env_config.name)
        Tags.of(self).add(ROLE_TAG, project, include_resource_types=["AWS::IAM::Role"])
        self.storage = StorageStack(
            self,
            StackPurpose.STORAGE,
            stack_name=naming.resource(StackPurpose.STORAGE),
            naming=naming,
            env_config=env_config,
            model=model,
        )
        self.pipeline = PipelineStack(
            self,
            StackPurpose.PIPELINE,
            stack_name=naming.resource(StackPurpose.PIPELINE),
            naming=naming,
            env_config=env_config,
            storage=self.storage,
            model_metrics=model.metrics,
        )
        self.serving = ServingStack(
            self,
            StackPurpose.SERVING,
            stack_name=naming.resource(StackPurpose.SERVING),
            naming=naming,
            env_config=env_config,
            storage=self.storage,
            contract=model.contract,
        )
        self.guardrails = GuardrailsStack(
            self,
            StackPurpose.GUARDRAILS,
            stack_name=naming.resource(StackPurpose.GUARDRAILS),
            naming=naming,
            env_config=env_config,
            storage=self.storage,
        )
        self.monitoring = MonitoringStack(
            self,
            StackPurpose.MONITORING,
            stack_name=naming.resource(StackPurpose.MONITORING),
            naming=naming,
            storage=self.storage,
            serving=self.serving,
            guardrails=self.guardrails,
        )
        self.drift = DriftStack(
            self,
            StackPurpose.DRIFT,
            stack_name=naming.resource(StackPurpose.DRIFT),
            naming=naming,
            env_config=env_config,
            storage=self.storage,
            dashboard=self.monitoring.dashboard,
        )
        apply_checkov_baseline(self)
