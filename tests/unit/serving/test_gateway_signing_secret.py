"""The prediction-id key comes from Secrets Manager (injected by ECS, or fetched by ARN), never from a default."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from safedeploy.errors import ConfigError
from serving.gateway.signing_secret import DEV_SECRET, resolve_signing_secret
from testbed.aws import REGION, SESSION, in_process_aws

KEY = "k" * 40


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with in_process_aws(monkeypatch):
        yield


def test_the_injected_value_is_used_as_is() -> None:
    assert resolve_signing_secret({"PREDICTION_ID_SECRET": KEY}, REGION) == KEY.encode()


def test_the_injected_value_wins_over_the_arn() -> None:
    def must_not_fetch(secret_id: str, region: str) -> str:
        raise AssertionError("fetched although ECS injected the value")

    env = {"PREDICTION_ID_SECRET": KEY, "PREDICTION_ID_SECRET_ARN": "arn:any"}
    assert resolve_signing_secret(env, REGION, fetch=must_not_fetch) == KEY.encode()


def test_an_arn_is_read_from_secrets_manager(aws: None) -> None:
    arn = SESSION.client("secretsmanager").create_secret(Name="gateway-key", SecretString=KEY)["ARN"]
    assert resolve_signing_secret({"PREDICTION_ID_SECRET_ARN": arn}, REGION) == KEY.encode()


def test_a_binary_or_missing_secret_is_refused(aws: None) -> None:
    arn = SESSION.client("secretsmanager").create_secret(Name="binary-key", SecretBinary=b"k" * 40)["ARN"]
    with pytest.raises(ConfigError, match="binary data"):
        resolve_signing_secret({"PREDICTION_ID_SECRET_ARN": arn}, REGION)
    with pytest.raises(ConfigError, match="cannot read PREDICTION_ID_SECRET_ARN missing-key"):
        resolve_signing_secret({"PREDICTION_ID_SECRET_ARN": "missing-key"}, REGION)


def test_without_a_secret_the_gateway_refuses_unless_told_it_is_development() -> None:
    with pytest.raises(ConfigError, match="no prediction-id signing secret"):
        resolve_signing_secret({}, REGION)
    with pytest.raises(ConfigError, match="no prediction-id signing secret"):
        resolve_signing_secret({"ALLOW_DEV_SECRET": "false"}, REGION)
    assert resolve_signing_secret({"ALLOW_DEV_SECRET": "true"}, REGION) == DEV_SECRET.encode()


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ConfigError, match="has 8 characters; at least 32"):
        resolve_signing_secret({"PREDICTION_ID_SECRET": "12345678"}, REGION)
