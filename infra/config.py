"""The CDK types the stacks read from an environment's configuration (`safedeploy/environment_config.py`, which
holds the models and names no CDK type, so the CLI reads cdk.json with them too)."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs

from safedeploy.environment_config import LOG_RETENTION, EnvironmentConfig, PipelineConfig


def log_retention(pipeline: PipelineConfig) -> logs.RetentionDays:
    return getattr(logs.RetentionDays, LOG_RETENTION[pipeline.log_retention_days])


def removal_policy(env_config: EnvironmentConfig) -> RemovalPolicy:
    """What `cdk destroy` does to the environment's stateful resources (kept unless it says destroy)."""
    return RemovalPolicy.RETAIN if env_config.removal_policy == "retain" else RemovalPolicy.DESTROY
