from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ml.data import FEATURES, generate, write_csv
from safedeploy import registry, s3_layout
from safedeploy.build_steps.model_plugin import ModelPlugin
from safedeploy.build_steps.settings import ReleaseSettings
from safedeploy.build_steps.train_and_register import register_candidate
from safedeploy.build_steps.training_data import TrainingData
from safedeploy.drift.baseline import SCORE, Baseline, sha256_digest
from testbed.aws import SESSION, in_process_aws
from tests.support.configuration import EXAMPLE_MODEL
from tests.support.train_build import provisioned_train_build


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[ReleaseSettings]:
    with in_process_aws(monkeypatch):
        yield provisioned_train_build()


def test_the_train_step_attaches_a_baseline_stored_next_to_the_model_with_its_digest(
    settings: ReleaseSettings, tmp_path: Path
) -> None:
    data = TrainingData(write_csv(generate(800, 5), tmp_path / "data.csv"), "generator")

    example = ModelPlugin.from_mapping(EXAMPLE_MODEL)
    trained = example.train_model(data.path, tmp_path / "work" / "model", seed=settings.seed)
    result = register_candidate(settings, SESSION.client, trained, data, tmp_path / "work", example, lambda _: None)

    sm, s3 = SESSION.client("sagemaker"), SESSION.client("s3")
    source = registry.drift_baseline_source(sm, result.package_arn)
    assert source is not None
    model_url = sm.describe_model_package(ModelPackageName=result.package_arn)["InferenceSpecification"]["Containers"][
        0
    ]["ModelDataUrl"]
    assert source["S3Uri"].rsplit("/", 1)[0] == model_url.rsplit("/", 1)[0]
    bucket, key = s3_layout.split_s3_uri(source["S3Uri"])
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert source["ContentDigest"] == sha256_digest(body)
    baseline = Baseline.from_json(body)
    assert [feature.name for feature in baseline.features] == list(FEATURES)
    assert baseline.rows == 800 and baseline.score is not None and baseline.score.name == SCORE
