from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto.athena.models import QueryResults, athena_backends
from moto.core import DEFAULT_ACCOUNT_ID

from ml.data import COLUMNS, FEATURES, read_csv
from safedeploy.build_steps import flags
from safedeploy.build_steps.exports import METRICS_TEXT_LIMIT, exported_variables, write_exports
from safedeploy.build_steps.feature_store import latest_records_query
from safedeploy.build_steps.model_plugin import ModelPlugin
from safedeploy.build_steps.settings import ReleaseSettings
from safedeploy.build_steps.training_data import fetch_training_data
from safedeploy.parameters import Param, parameter_name
from testbed.aws import REGION, SESSION, in_process_aws
from tests.support import configuration

PROJECT, ENV = "demo", "dev"
DATA_BUCKET = "demo-dev-data"
BASE_ENVIRONMENT = {"PROJECT": PROJECT, "ENV": ENV, "CODEBUILD_RESOLVED_SOURCE_VERSION": "abcdef1234567890"}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with in_process_aws(monkeypatch):
        yield


@pytest.fixture
def ssm(aws: None) -> Any:
    client = SESSION.client("ssm")
    values = {
        Param.DATA_BUCKET: DATA_BUCKET,
        Param.ARTIFACTS_BUCKET: "demo-dev-artifacts",
        Param.KMS_KEY_ARN: f"arn:aws:kms:{REGION}:{DEFAULT_ACCOUNT_ID}:key/example",
        Param.MODEL_PACKAGE_GROUP: "demo-dev-models",
        Param.FEATURE_GROUP_NAME: "demo-dev-features",
    }
    for key, value in values.items():
        client.put_parameter(Name=parameter_name(PROJECT, ENV, key), Value=value, Type="String")
    return client


def settings_from(ssm: Any, **environment: str) -> ReleaseSettings:
    return ReleaseSettings.from_environment({**BASE_ENVIRONMENT, **environment}, ssm, region=REGION)


# --- strict switches ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("false", False)])
def test_switches_accept_exactly_true_and_false(value: str, expected: bool) -> None:
    assert flags.env_flag({"USE_SM_PIPELINE": value}, "USE_SM_PIPELINE") is expected


@pytest.mark.parametrize("value", ["ture", "True", "FALSE", "1", "yes", "", " true"])
def test_anything_else_is_an_error_naming_the_variable(value: str) -> None:
    with pytest.raises(ValueError, match=f"USE_FEATURE_STORE must be 'true' or 'false', got {value!r}"):
        flags.env_flag({"USE_FEATURE_STORE": value}, "USE_FEATURE_STORE")


def test_an_unset_switch_takes_its_default() -> None:
    assert flags.env_flag({}, "USE_FEATURE_STORE") is False
    assert flags.env_flag({}, "USE_FEATURE_STORE", default=True) is True


def test_the_check_command_reports_every_bad_switch(capsys: pytest.CaptureFixture[str]) -> None:
    environment = {"USE_SM_PIPELINE": "false", "USE_FEATURE_STORE": "flase"}

    assert flags.main(["USE_SM_PIPELINE", "USE_FEATURE_STORE"], environment) == 2
    assert flags.main(["USE_SM_PIPELINE"], environment) == 0

    output = capsys.readouterr()
    assert "USE_FEATURE_STORE must be 'true' or 'false', got 'flase'" in output.err
    assert "USE_SM_PIPELINE=false" in output.out


# --- settings -------------------------------------------------------------------------------------------------


def test_settings_come_from_the_environments_parameters(ssm: Any) -> None:
    settings = settings_from(ssm, CODEBUILD_BUILD_NUMBER="12")

    assert (settings.data_bucket, settings.model_package_group) == (DATA_BUCKET, "demo-dev-models")
    assert settings.kms_key_arn.startswith("arn:aws:kms:")
    assert (settings.use_sm_pipeline, settings.use_feature_store, settings.feature_group_name) == (False, False, None)
    assert settings.run_key == "abcdef123456/12"


def test_an_environment_variable_wins_over_the_parameter(ssm: Any) -> None:
    assert settings_from(ssm, DATA_BUCKET="override-bucket").data_bucket == "override-bucket"


def test_a_missing_parameter_is_named(ssm: Any) -> None:
    with pytest.raises(ValueError, match=f"SSM parameter /{PROJECT}/{ENV}/sagemaker-execution-role-arn does not exist"):
        settings_from(ssm, USE_SM_PIPELINE="true")


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"PROJECT": ""}, "PROJECT is not set"),
        ({"CODEBUILD_RESOLVED_SOURCE_VERSION": ""}, "CODEBUILD_RESOLVED_SOURCE_VERSION is not set"),
        ({"EXTERNAL_CSV_URI": "https://example.com/data.csv"}, "EXTERNAL_CSV_URI: .* is not an s3://bucket/key URI"),
        ({"TRAINING_ROWS": "many"}, "TRAINING_ROWS must be a positive integer"),
        ({"USE_FEATURE_STORE": "ture"}, "USE_FEATURE_STORE must be 'true' or 'false'"),
    ],
)
def test_bad_settings_are_refused_with_their_name(ssm: Any, environment: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        settings_from(ssm, **environment)


# --- training data --------------------------------------------------------------------------------------------


def client(service: str) -> Any:
    return SESSION.client(service)


EXAMPLE_MODEL = ModelPlugin.from_mapping(configuration.EXAMPLE_MODEL)


def test_without_a_source_the_seeded_generator_is_used(ssm: Any, tmp_path: Path) -> None:
    data = fetch_training_data(settings_from(ssm, TRAINING_ROWS="300"), client, tmp_path, EXAMPLE_MODEL)

    assert data.source == "sample data of ml.data:write_sample (300 rows, seed 42)"
    assert read_csv(data.path).rows == 300


def test_an_external_csv_is_downloaded(ssm: Any, tmp_path: Path) -> None:
    s3 = SESSION.client("s3")
    s3.create_bucket(Bucket=DATA_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket=DATA_BUCKET, Key="datasets/v3.csv", Body=",".join(COLUMNS) + "\n25,1,0,1,0,0,1,1,1\n")
    uri = f"s3://{DATA_BUCKET}/datasets/v3.csv"

    data = fetch_training_data(settings_from(ssm, EXTERNAL_CSV_URI=uri), client, tmp_path, EXAMPLE_MODEL)

    assert data.source == uri
    assert read_csv(data.path).labels.tolist() == [1]


def test_the_feature_store_wins_and_its_latest_records_are_read(ssm: Any, tmp_path: Path) -> None:
    sm = SESSION.client("sagemaker")
    sm.create_feature_group(
        FeatureGroupName="demo-dev-features",
        RecordIdentifierFeatureName="record_id",
        EventTimeFeatureName="event_time",
        FeatureDefinitions=[{"FeatureName": name, "FeatureType": "String"} for name in ("record_id", "event_time")]
        + [{"FeatureName": name, "FeatureType": "Fractional"} for name in COLUMNS],
        OfflineStoreConfig={"S3StorageConfig": {"S3Uri": f"s3://{DATA_BUCKET}/feature-store"}},
        RoleArn=f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/features",
    )
    athena_backends[DEFAULT_ACCOUNT_ID][REGION].query_results_queue.append(
        QueryResults(
            rows=[
                {"Data": [{"VarCharValue": name} for name in COLUMNS]},
                {"Data": [{"VarCharValue": value} for value in ["25", "1", "0", "1", "0", "0", "1", "1", "1"]]},
                {"Data": [{"VarCharValue": value} for value in ["61", "0", "1", "0", "0", "1", "0", "0", "0"]]},
            ],
            column_info=[{"Name": name, "Type": "double"} for name in COLUMNS],
        )
    )
    progress: list[str] = []
    settings = settings_from(ssm, USE_FEATURE_STORE="true", EXTERNAL_CSV_URI=f"s3://{DATA_BUCKET}/ignored.csv")

    data = fetch_training_data(settings, client, tmp_path, EXAMPLE_MODEL, progress.append)

    assert data.source == "Feature Group demo-dev-features"
    dataset = read_csv(data.path)
    assert dataset.features.tolist() == [[25, 1, 0, 1, 0, 0, 1, 1], [61, 0, 1, 0, 0, 1, 0, 0]]
    assert dataset.labels.tolist() == [1, 0]
    assert progress[-1] == "2 records from Feature Group demo-dev-features"
    execution = SESSION.client("athena").list_query_executions()["QueryExecutionIds"][0]
    query = SESSION.client("athena").get_query_execution(QueryExecutionId=execution)["QueryExecution"]
    assert 'PARTITION BY "record_id"' in query["Query"] and "NOT is_deleted" in query["Query"]
    assert query["ResultConfiguration"]["OutputLocation"].startswith(f"s3://{DATA_BUCKET}/datasets/")


def test_the_query_refuses_names_it_would_have_to_escape() -> None:
    with pytest.raises(ValueError, match="not a plain Athena identifier"):
        latest_records_query("db", 'table"; DROP', "record_id", "event_time", FEATURES)


# --- exported variables ---------------------------------------------------------------------------------------


def test_exports_survive_the_shell_that_sources_them(tmp_path: Path) -> None:
    arn = f"arn:aws:sagemaker:{REGION}:{DEFAULT_ACCOUNT_ID}:model-package/demo-dev-models/3"
    metrics = {"auc": 0.912345, "accuracy": 0.8, "f1": 0.75, "log_loss": 0.3}
    path = write_exports(exported_variables(arn, metrics, ["f1", "auc"]), tmp_path / "x.env")

    shell = subprocess.run(
        ["bash", "-c", f'set -a; . "{path}"; set +a; echo "$MODEL_PACKAGE_ARN|$MODEL_METRICS"'],
        capture_output=True,
        text=True,
        check=True,
    )

    assert shell.stdout.strip() == f"{arn}|f1 0.7500, auc 0.9123"  # model.metrics' names, in its order


def test_exports_need_every_headline_metric() -> None:
    with pytest.raises(
        ValueError, match=r"^the model reported no r2 metric \(model.metrics names it\); it reported auc"
    ):
        exported_variables("arn", {"auc": 0.9}, ["r2"])


def test_an_export_longer_than_the_approval_shows_is_refused() -> None:
    """The approval message budgets METRICS_TEXT_LIMIT characters for the metrics (stacks/pipeline/approvals.py)."""
    with pytest.raises(
        ValueError, match=rf"^MODEL_METRICS 'auc 9999.* is longer than the {METRICS_TEXT_LIMIT} characters"
    ):
        exported_variables("arn:x", {"auc": 1e90}, ["auc"])
