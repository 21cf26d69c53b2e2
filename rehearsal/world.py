"""An environment as its stacks would leave it, on a moto server: what the storage and guardrails stacks publish
(versioned buckets, key, model package group, SSM parameters under `/<project>/<env>/`), named by `safedeploy/naming.py`
from the environment's own `cdk.json` configuration. The rehearsal provisions every environment of the configured
promotion chain side by side (dev -> prod as shipped; dev -> staging -> prod once cdk.json adds staging).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rehearsal.rollout import with_strategy
from safedeploy.build_steps.model_plugin import ModelPlugin
from safedeploy.environment_config import EnvironmentConfig, load_config
from safedeploy.errors import ConfigError
from safedeploy.guardrails.settings import GuardrailParameter
from safedeploy.model_wire import encode_answers
from safedeploy.naming import Naming
from safedeploy.parameters import Param, parameter_name
from safedeploy.serving_contract import ServingContract
from stacks.guardrails_stack import ROLLBACK_ALARMS
from testbed.aws import REGION, MotoServer

ROOT = Path(__file__).resolve().parents[1]
CONFIG_FILE = ROOT / "cdk.json"


@dataclass(frozen=True)
class World:
    naming: Naming
    config: EnvironmentConfig
    model: ModelPlugin  # cdk.json's model: its code package is checked out, its contract shapes the traffic
    artifacts_bucket: str
    key_arn: str
    data_bucket: str = ""
    drift_bucket: str = ""

    @property
    def contract(self) -> ServingContract:
        return self.model.contract

    def smoke_answers(self, count: int = 4) -> list[str]:
        """What the endpoint answers the deploy's smoke test (moto's runtime answers what is queued): a healthy
        answer in the model's format, inside its healthy range."""
        low, high = self.contract.answer.healthy_range()
        value = (low + high) / 2 if math.isfinite(high - low) else 1.0
        return [encode_answers(self.contract.content_type, [value]).decode()] * count

    def bindings(self) -> dict[str, str]:
        """What CloudFormation would have named, by the SSM parameter the storage stack publishes it under."""
        parameter = self.naming.parameter
        return {
            parameter(Param.ARTIFACTS_BUCKET): self.artifacts_bucket,
            parameter(Param.DATA_BUCKET): self.data_bucket,
            parameter(Param.DRIFT_BUCKET): self.drift_bucket,
            parameter(Param.KMS_KEY_ARN): self.key_arn,
        }


def rehearsed_chain(context: dict[str, Any]) -> list[str]:
    """The promotion chain the rehearsal plays: from the first environment in cdk.json that trains (no environment
    promotes to it) and promotes, to the end of its chain. One that promotes nowhere cannot be rehearsed."""
    config = load_config(context)
    origins = [name for name in config.environments if config.source_of(name) is None]
    chains = [config.chain_of(name) for name in origins]
    chain = next((chain for chain in chains if len(chain) > 1), None)
    if chain is None:
        raise ConfigError(
            f"the rehearsal plays a release from a training environment to the environments it promotes to; no "
            f"environment of cdk.json ({', '.join(config.environments)}) has promotes_to"
        )
    return chain


def rehearsed_context(strategy: str | None = None, config_file: Path = CONFIG_FILE) -> dict[str, Any]:
    """The context of `config_file` (the project's cdk.json), with the training environment's deployment strategy
    replaced when the rehearsal is asked to play another."""
    context = json.loads(config_file.read_text())["context"]
    if strategy is not None:
        training = context["environments"][rehearsed_chain(context)[0]]
        training["endpoint"] = with_strategy(training.get("endpoint", {}), strategy)
    return context


def provision(server: MotoServer, environment: str, context: dict[str, Any] | None = None) -> World:
    app_config = load_config(context or rehearsed_context())
    config = app_config.environments[environment]
    naming = Naming(app_config.project, environment)
    key_arn = server.client("kms").create_key(Description=f"{naming.prefix} rehearsal")["KeyMetadata"]["Arn"]
    buckets = {
        Param.DATA_BUCKET: naming.resource("data"),
        Param.ARTIFACTS_BUCKET: naming.resource("artifacts"),
        Param.DRIFT_BUCKET: naming.resource("drift-work"),
    }
    s3 = server.client("s3")
    for bucket in buckets.values():
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    server.client("sagemaker").create_model_package_group(ModelPackageGroupName=naming.model_package_group)
    guardrails = GuardrailParameter(config.endpoint, [naming.resource(alarm) for alarm in ROLLBACK_ALARMS])
    values = {
        **buckets,
        Param.KMS_KEY_ARN: key_arn,
        Param.MODEL_PACKAGE_GROUP: naming.model_package_group,
        Param.SAGEMAKER_EXECUTION_ROLE_ARN: f"arn:aws:iam::123456789012:role/{naming.resource('sagemaker-execution')}",
        Param.ENDPOINT_NAME: naming.endpoint,
        Param.PIPELINE_NAME: naming.pipeline,
        Param.DEPLOYMENT_CONFIG: guardrails.to_json(),
        Param.SERVING_CONTRACT: app_config.model.contract.to_json(),
    }
    ssm = server.client("ssm")
    for key, value in values.items():
        ssm.put_parameter(Name=parameter_name(naming.project, environment, key), Value=value, Type="String")
    return World(
        naming,
        config,
        app_config.model,
        buckets[Param.ARTIFACTS_BUCKET],
        key_arn,
        buckets[Param.DATA_BUCKET],
        buckets[Param.DRIFT_BUCKET],
    )
