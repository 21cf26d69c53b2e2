"""The rehearsal's drift scenario on its own: a live model with its drift baseline, stable traffic leaves the drift
alarm OK, a 0.5-SD shift of one feature raises it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ml.build import build_model
from ml.data import generate
from rehearsal import drift_scenario
from rehearsal.world import World, provision
from safedeploy import registry
from safedeploy.build_steps.drift_baseline import BASELINE_NAME
from safedeploy.drift.baseline import compute_baseline, sha256_digest
from safedeploy.guardrails import resource_tags
from tests.support.aws import MotoServer, moto_server

pytestmark = pytest.mark.integration

ROLE = "arn:aws:iam::123456789012:role/rehearsal-sagemaker"


@pytest.fixture(scope="module")
def server() -> Iterator[MotoServer]:
    with moto_server() as running:
        yield running


def _deploy_live_model(server: MotoServer, world: World, work: Path) -> None:
    """What Train and Deploy leave: the artifact, its drift baseline, the package, and the endpoint serving it."""
    sm, s3 = server.client("sagemaker"), server.client("s3")
    build = build_model(generate(3000, 7), work, seed=7)
    bucket, run = world.artifacts_bucket, "models/abc/1"
    s3.upload_file(str(build.artifact), bucket, f"{run}/model.tar.gz")
    s3.upload_file(str(build.report), bucket, "evaluation/abc/1/evaluation.json")
    body = compute_baseline(build.features, build.feature_names, build.scores).to_json()
    s3.put_object(Bucket=bucket, Key=f"{run}/{BASELINE_NAME}", Body=body)
    package = registry.register_model_package(
        sm,
        group=world.naming.model_package_group,
        image_uri="image:1",
        model_data_url=f"s3://{bucket}/{run}/model.tar.gz",
        report_s3_uri=f"s3://{bucket}/evaluation/abc/1/evaluation.json",
        metrics=build.metrics,
        commit_id="abc123",
        description="live",
        drift_baseline={
            "ContentType": "application/json",
            "S3Uri": f"s3://{bucket}/{run}/{BASELINE_NAME}",
            "ContentDigest": sha256_digest(body),
        },
    )
    name = world.naming.resource("m1")
    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "image:1"})
    variant = {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant])
    tags = resource_tags.tag_list({resource_tags.PACKAGE_ARN: package})
    sm.create_endpoint(EndpointName=world.naming.endpoint, EndpointConfigName=name, Tags=tags)


def test_stable_traffic_leaves_the_alarm_ok_and_drifted_traffic_raises_it(server: MotoServer, tmp_path: Path) -> None:
    world = provision(server)
    _deploy_live_model(server, world, tmp_path)
    lines: list[str] = []

    checks = drift_scenario.play(server, world, lines.append)

    assert checks == {
        "stable traffic leaves the drift alarm OK": True,
        "drifted traffic raises the drift alarm": True,
    }, lines
    assert len(lines) == 2 and "drifted ['f0'" in lines[1]
