"""The rehearsal's drift scenario on its own: a live model with its drift baseline, stable traffic leaves the drift
alarm OK, a 0.5-SD shift of one feature raises it.

moto's state is shared by every server of the process, so this environment has a project name of its own: the
full rehearsal provisions `my-mlops-dev` in the same worker. Its dev and model are the tests' own
(tests/support/configuration.py), trained and served through the model's entry points only, as the scenario is."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rehearsal import drift_scenario
from rehearsal.world import World
from safedeploy import registry
from safedeploy.digests import sha256_file
from safedeploy.drift.baseline import compute_baseline
from safedeploy.environment_config import load_config
from safedeploy.naming import Naming
from testbed.aws import REGION, MotoServer, moto_server
from tests.support.configuration import two_environments
from tests.unit.drift.packages import create_bucket_and_group, register_with_baseline, serve_package, store_baseline

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server() -> Iterator[MotoServer]:
    with moto_server() as running:
        yield running


def _deploy_live_model(server: MotoServer, world: World, work: Path) -> None:
    """What Train and Deploy leave: the artifact, its drift baseline, the package, and the endpoint serving it."""
    sm, s3 = server.client("sagemaker"), server.client("s3")
    build = world.model.train_model(world.model.write_sample(work / "data.csv", rows=3000, seed=7), work, seed=7)
    bucket = world.artifacts_bucket
    s3.upload_file(str(build.artifact), bucket, "models/abc/1/model.tar.gz")
    body = compute_baseline(build.features, build.feature_names, build.scores).to_json()
    source = store_baseline(s3, body, bucket=bucket)
    group = world.naming.model_package_group
    provenance = {registry.MODEL_SHA256_PROPERTY: sha256_file(build.artifact)}
    package = register_with_baseline(sm, source, "live", group=group, bucket=bucket, provenance=provenance)
    serve_package(sm, world.naming.endpoint, package)


def _world(server: MotoServer) -> World:
    server.reset()  # the module's server: a repeated run (pytest --count) starts from nothing too
    naming = Naming("drift-it", "dev")
    app_config = load_config(two_environments())
    key = "arn:aws:kms:ap-northeast-2:123456789012:key/drift-it"
    world = World(
        naming,
        app_config.environments["dev"],
        app_config.model,
        naming.resource("artifacts"),
        key,
        drift_bucket=naming.resource("drift-work"),
    )
    s3 = server.client("s3")
    create_bucket_and_group(server.client("sagemaker"), s3, world.artifacts_bucket, naming.model_package_group)
    s3.create_bucket(Bucket=world.drift_bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    return world


def test_stable_traffic_leaves_the_alarm_ok_and_drifted_traffic_raises_it(server: MotoServer, tmp_path: Path) -> None:
    world = _world(server)
    _deploy_live_model(server, world, tmp_path)
    lines: list[str] = []

    checks = drift_scenario.play(server, world, lines.append)

    assert checks == {
        "stable traffic leaves the drift alarm OK": True,
        "drifted traffic raises the drift alarm": True,
    }, lines
    assert len(lines) == 2 and f"drifted ['{world.contract.features[0]}'" in lines[1]
