"""Gateway configuration: defaults that work, and one line naming the variable for every value that cannot."""

from __future__ import annotations

import pytest

from safedeploy.errors import ConfigError
from serving.gateway.settings import Settings, load_settings

TABLES = {"API_KEYS_TABLE": "my-mlops-dev-gateway-api-keys", "FEEDBACK_TABLE": "my-mlops-dev-gateway-feedback"}
BASE = {"ENDPOINT_NAME": "my-mlops-dev-endpoint", "AWS_REGION": "ap-northeast-2", "FEATURE_COUNT": "5", **TABLES}


def test_defaults_follow_the_serving_contract() -> None:
    settings = load_settings(BASE)
    assert settings == Settings(
        endpoint_name="my-mlops-dev-endpoint",
        region="ap-northeast-2",
        feature_count=5,
        api_keys_table=TABLES["API_KEYS_TABLE"],
        feedback_table=TABLES["FEEDBACK_TABLE"],
    )
    assert not settings.allow_unauthenticated
    assert 0 < settings.header_read_timeout_seconds < settings.keep_alive_seconds
    assert (settings.max_header_bytes, settings.max_header_count) == (16384, 100)
    assert (settings.metrics_namespace, settings.feature_count, settings.score_threshold) == (
        "SafeDeploy/Gateway", 5, 0.5,
    )  # fmt: skip
    assert settings.keep_alive_seconds > 60  # longer than the ALB's idle timeout


def test_values_are_read_and_typed() -> None:
    settings = load_settings(
        {**BASE, "FEATURE_COUNT": "12", "SCORE_THRESHOLD": "0.7", "METRICS_NAMESPACE": "Team/Gw", "LOG_LEVEL": "debug"}
    )
    assert (settings.feature_count, settings.score_threshold, settings.metrics_namespace, settings.log_level) == (
        12, 0.7, "Team/Gw", "DEBUG",
    )  # fmt: skip


def test_a_regressors_wire_and_tolerance_are_read() -> None:
    settings = load_settings(
        {**BASE, "MODEL_CONTENT_TYPE": "application/json", "ANSWER_KIND": "value", "ANSWER_TOLERANCE": "2.5"}
    )
    assert (settings.model_content_type, settings.answer_kind, settings.answer_tolerance) == (
        "application/json", "value", 2.5,
    )  # fmt: skip


def test_the_region_falls_back_to_the_sdk_default_variable() -> None:
    assert load_settings(
        {"ENDPOINT_NAME": "e", "AWS_DEFAULT_REGION": "us-east-1", "FEATURE_COUNT": "1", **TABLES}
    ).region == ("us-east-1")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"ENDPOINT_NAME": ""}, "ENDPOINT_NAME is required"),
        ({"ENDPOINT_NAME": "-bad-"}, "ENDPOINT_NAME '-bad-' is not a SageMaker endpoint name"),
        ({"ENDPOINT_NAME": "e" * 64}, "is not a SageMaker endpoint name"),
        ({"AWS_REGION": ""}, "AWS_REGION is required"),
        ({"FEATURE_COUNT": ""}, "FEATURE_COUNT is required: the model's request width (the serving stack sets it"),
        ({"FEATURE_COUNT": "0"}, "FEATURE_COUNT must be an integer between 1 and 10000, got '0'"),
        ({"FEATURE_COUNT": "8.5"}, "FEATURE_COUNT must be an integer"),
        ({"SCORE_THRESHOLD": "nan"}, "SCORE_THRESHOLD must be a number between 0.0 and 1.0, got 'nan'"),
        (
            {"MODEL_CONTENT_TYPE": "text/plain"},
            "MODEL_CONTENT_TYPE must be one of text/csv, application/json, got 'text/plain'",
        ),
        ({"ANSWER_KIND": "label"}, "ANSWER_KIND must be one of probability, value, got 'label'"),
        ({"ANSWER_KIND": "value"}, "ANSWER_TOLERANCE is required: a value answer's feedback is judged by it"),
        ({"MAX_BODY_BYTES": str(7 * 1024 * 1024)}, "MAX_BODY_BYTES must be an integer between 1024 and 6291456"),
        ({"ENDPOINT_MAX_ATTEMPTS": "9"}, "ENDPOINT_MAX_ATTEMPTS"),
        ({"METRICS_NAMESPACE": "AWS/SageMaker"}, "must be at most 255 characters and not start with AWS/"),
        ({"LOG_LEVEL": "verbose"}, "LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got 'verbose'"),
        ({"PORT": "80"}, "PORT must be an integer between 1024 and 65535"),
        ({"API_KEYS_TABLE": ""}, "API_KEYS_TABLE is required"),
        ({"FEEDBACK_TABLE": ""}, "FEEDBACK_TABLE is required"),
        ({"FEEDBACK_TABLE": "x"}, "FEEDBACK_TABLE 'x' is not a DynamoDB table name"),
        ({"RATE_LIMIT_PER_SECOND": "0"}, "RATE_LIMIT_PER_SECOND must be a number between 0.1"),
        ({"HEADER_READ_TIMEOUT_SECONDS": "0"}, "HEADER_READ_TIMEOUT_SECONDS"),
        ({"BODY_READ_TIMEOUT_SECONDS": "inf"}, "BODY_READ_TIMEOUT_SECONDS must be a number between 0.1 and 600.0"),
        ({"MAX_HEADER_BYTES": "100"}, "MAX_HEADER_BYTES must be an integer between 1024 and 1048576"),
        ({"MAX_HEADER_COUNT": "-1"}, "MAX_HEADER_COUNT must be an integer between 10 and 10000"),
        ({"UNKNOWN_KEY_LOOKUPS_PER_SECOND": "0"}, "UNKNOWN_KEY_LOOKUPS_PER_SECOND must be a number between 0.1"),
        ({"UNKNOWN_KEY_LOOKUP_BURST": "0"}, "UNKNOWN_KEY_LOOKUP_BURST must be an integer between 1"),
        ({"DRIFT_BUCKET": "my-mlops-dev-drift-work"}, "DRIFT_BUCKET is set but ARTIFACTS_BUCKET"),
        ({"DRIFT_BUCKET": "bkt", "ARTIFACTS_BUCKET": "Bad_Name"}, "ARTIFACTS_BUCKET 'Bad_Name' is not an S3 bucket"),
    ],
)
def test_a_wrong_value_names_the_variable(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings({**BASE, **overrides})
    assert message in str(raised.value)


def test_histograms_go_to_the_drift_bucket_and_baselines_come_from_the_artifacts_bucket() -> None:
    settings = load_settings({**BASE, "DRIFT_BUCKET": "dev-drift-work", "ARTIFACTS_BUCKET": "dev-artifacts"})
    assert (settings.drift_bucket, settings.baseline_bucket) == ("dev-drift-work", "dev-artifacts")


def test_running_without_api_keys_is_an_explicit_choice_that_also_turns_feedback_off() -> None:
    settings = load_settings(
        {"ENDPOINT_NAME": "e", "AWS_REGION": "us-east-1", "FEATURE_COUNT": "1"} | {"ALLOW_UNAUTHENTICATED": "true"}
    )
    assert settings.allow_unauthenticated and settings.feedback_table == ""
