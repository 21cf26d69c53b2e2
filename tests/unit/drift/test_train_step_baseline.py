from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ml.data import FEATURES, generate, write_csv
from safedeploy import registry, s3_layout
from safedeploy.build_steps.model_plugin import ModelPlugin
from safedeploy.build_steps.settings import ReleaseSettings
from safedeploy.build_steps.train_and_register import train_in_build
from safedeploy.build_steps.training_data import TrainingData
from safedeploy.drift.baseline import SCORE, Baseline, sha256_digest
from safedeploy.parameters import Param, parameter_name
from testbed.aws import REGION, SESSION, in_process_aws
from tests.support.configuration import EXAMPLE_MODEL

PROJECT, ENV, GROUP, BUCKET = "demo", "dev", "demo-dev-models", "demo-dev-artifacts"


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[ReleaseSettings]:
    with in_process_aws(monkeypatch):
        key = SESSION.client("kms").create_key()["KeyMetadata"]["Arn"]
        SESSION.client("s3").create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        SESSION.client("sagemaker").create_model_package_group(ModelPackageGroupName=GROUP)
        ssm = SESSION.client("ssm")
        values = {
            Param.DATA_BUCKET: "demo-dev-data",
            Param.ARTIFACTS_BUCKET: BUCKET,
            Param.KMS_KEY_ARN: key,
            Param.MODEL_PACKAGE_GROUP: GROUP,
            Param.FEATURE_GROUP_NAME: "demo-dev-features",
        }
        for name, value in values.items():
            ssm.put_parameter(Name=parameter_name(PROJECT, ENV, name), Value=value, Type="String")
        environment = {"PROJECT": PROJECT, "ENV": ENV, "CODEBUILD_RESOLVED_SOURCE_VERSION": "abcdef1234567890"}
        yield ReleaseSettings.from_environment(environment, ssm, region=REGION)


def test_the_train_step_attaches_a_baseline_stored_next_to_the_model_with_its_digest(
    settings: ReleaseSettings, tmp_path: Path
) -> None:
    data = TrainingData(write_csv(generate(800, 5), tmp_path / "data.csv"), "generator")

    example = ModelPlugin.from_mapping(EXAMPLE_MODEL)
    result = train_in_build(settings, SESSION.client, data, tmp_path / "work", example, progress=lambda _: None)

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
