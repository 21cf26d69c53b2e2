"""A blue/green deployment in progress on moto: the live fleet, a candidate held Updating, and per-minute metrics
for both, replayed on demand (the canary analysis's tests and its Lambda benchmark)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from safedeploy.canary.analysis import AnalysisOutcome, analyze_endpoint
from safedeploy.guardrails import resource_tags
from safedeploy.guardrails.release_names import PRODUCTION_VARIANT
from safedeploy.lambda_actions.aws_clients import AwsClients
from safedeploy.parameters import Param, parameter_name
from testbed.aws import REGION
from testbed.deploy_world import ENDPOINT, ENV, PROJECT, ROLE_ARN, provision_parameters
from testbed.fleet_metrics import FleetBehaviour, fleet_dimensions, publish_minute
from testbed.moto_sagemaker import endpoint_updates, start_baking

BUCKET = "demo-dev-artifacts"
BLUE_GREEN = {
    "strategy": "canary",
    "instance_count": 10,
    "canary_size_percent": 10,
    "wait_interval_seconds": 600,
    # the canary's bake and the final bake (2 x 600 s) must fit in the timeout
    "max_execution_timeout_seconds": 1260,
    "canary": {"expected_requests_per_minute": 1000, "min_samples": 200, "looks": 10},
}


def artifacts_bucket(clients: AwsClients) -> None:
    """The artifacts bucket and its parameter, as the storage stack publishes them."""
    clients("s3").create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    clients("ssm").put_parameter(Name=parameter_name(PROJECT, ENV, Param.ARTIFACTS_BUCKET), Value=BUCKET, Type="String")


def create_config(sm: Any, name: str, variants: list[str] | None = None) -> None:
    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE_ARN, PrimaryContainer={"Image": "image"})
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {"VariantName": variant, "ModelName": name, "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
            for variant in variants or [PRODUCTION_VARIANT]
        ],
    )


@dataclass
class Deployment:
    """A blue/green update of ENDPOINT from `old` to `new`, held Updating; minutes are replayed on demand."""

    clients: AwsClients
    started_at: datetime
    old: str = "config-v1"
    new: str = "config-v2"
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(7))
    minute: int = 0

    def serve_minute(
        self, requests: int, baseline: FleetBehaviour, candidate: FleetBehaviour, candidate_requests: int | None = None
    ) -> None:
        """One minute of traffic split 90/10 (or `candidate_requests` to the candidate), as SageMaker reports it per
        EndpointConfigName."""
        at = self.started_at.replace(second=0, microsecond=0) + timedelta(minutes=self.minute, seconds=30)
        cloudwatch = self.clients("cloudwatch")
        canary = requests // 10 if candidate_requests is None else candidate_requests
        publish_minute(cloudwatch, fleet_dimensions(ENDPOINT, PRODUCTION_VARIANT, self.old), at,
                       requests - canary, baseline, self.rng)  # fmt: skip
        publish_minute(cloudwatch, fleet_dimensions(ENDPOINT, PRODUCTION_VARIANT, self.new), at,
                       canary, candidate, self.rng)  # fmt: skip
        self.minute += 1

    def analyze(self) -> AnalysisOutcome:
        """The analysis at a few seconds past the end of the last served minute."""
        now = self.started_at.replace(second=0, microsecond=0) + timedelta(minutes=self.minute, seconds=5)
        return analyze_endpoint(self.clients, PROJECT, ENV, now)


def start_blue_green(clients: AwsClients, *, guarded: bool = True, baking: bool = True, **settings: Any) -> Deployment:
    """config-v1 serves; an update to config-v2 starts and stays Updating until the test is done with it.

    `guarded` tags the endpoint as `safedeploy deploy` does; `baking` turns the new fleet's traffic on at once.
    """
    sm = clients("sagemaker")
    provision_parameters(clients("ssm"), {**BLUE_GREEN, **settings})
    create_config(sm, "config-v1")
    sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName="config-v1")
    create_config(sm, "config-v2")
    endpoint_updates(REGION).plan(ENDPOINT, "succeed", polls=10**9)
    if guarded:
        resource_tags.mark_guarded(sm, sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointArn"], "config-v2")
    sm.update_endpoint(EndpointName=ENDPOINT, EndpointConfigName="config-v2")
    started = sm.describe_endpoint(EndpointName=ENDPOINT)["PendingDeploymentSummary"]["StartTime"]
    if baking:
        start_baking(REGION, ENDPOINT, started)
    return Deployment(clients, started)
