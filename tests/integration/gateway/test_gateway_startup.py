"""The container refuses to start on a configuration it cannot serve safely, with one line naming the variable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from testbed import iam_enforcement
from testbed.aws import MotoServer
from testbed.gateway_harness import (
    NAMING,
    GatewayEnv,
    GatewayPolicies,
    gateway_environment,
    run_gateway_command,
    running_gateway,
)

pytestmark = pytest.mark.integration

UNREACHABLE = "http://127.0.0.1:9"


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({}, "PREDICTION_ID_SECRET"),
        ({"PREDICTION_ID_SECRET": "short"}, "at least 32"),
        ({"ALLOW_DEV_SECRET": "maybe"}, "ALLOW_DEV_SECRET"),
        ({"ALLOW_DEV_SECRET": "true", "ENDPOINT_NAME": ""}, "ENDPOINT_NAME is required"),
        ({"ALLOW_DEV_SECRET": "true", "ENDPOINT_NAME": "my_endpoint"}, "ENDPOINT_NAME 'my_endpoint'"),
        ({"ALLOW_DEV_SECRET": "true", "FEATURE_COUNT": "eight"}, "FEATURE_COUNT must be an integer"),
        ({"ALLOW_DEV_SECRET": "true", "SCORE_THRESHOLD": "1.5"}, "SCORE_THRESHOLD must be a number between 0.0"),
        ({"ALLOW_DEV_SECRET": "true", "MAX_BODY_BYTES": "10000000"}, "MAX_BODY_BYTES"),
        ({"ALLOW_DEV_SECRET": "true", "API_KEYS_TABLE": ""}, "API_KEYS_TABLE is required"),
        ({"ALLOW_DEV_SECRET": "true", "FEEDBACK_TABLE": "a b"}, "FEEDBACK_TABLE 'a b' is not a DynamoDB table name"),
        ({"ALLOW_DEV_SECRET": "true", "ALLOW_UNAUTHENTICATED": "perhaps"}, "ALLOW_UNAUTHENTICATED"),
    ],
)
def test_an_unsafe_configuration_stops_the_container(
    gateway_env: GatewayEnv, overrides: dict[str, str], named: str
) -> None:
    result = run_gateway_command(gateway_env(UNREACHABLE, **overrides))
    assert result.returncode == 2, result.stdout + result.stderr
    assert named in result.stderr
    assert "Traceback" not in result.stderr


def test_a_secret_it_cannot_read_stops_the_gateway_run_outside_ecs(moto: MotoServer, policies: GatewayPolicies) -> None:
    """PREDICTION_ID_SECRET_ARN is for a gateway run outside ECS, with its operator's credentials (in ECS the
    execution role injects PREDICTION_ID_SECRET; the task role may not read the secret)."""
    missing = NAMING.resource("no-such-secret")
    operator = iam_enforcement.subprocess_environment(iam_enforcement.OPERATOR, policies.file)
    result = run_gateway_command(gateway_environment(moto, UNREACHABLE, PREDICTION_ID_SECRET_ARN=missing, **operator))
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"cannot read PREDICTION_ID_SECRET_ARN {missing}" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_development_secret_needs_the_explicit_flag_and_says_so(gateway_env: GatewayEnv, tmp_path: Path) -> None:
    env = gateway_env(UNREACHABLE, ALLOW_DEV_SECRET="true")
    with running_gateway(env, tmp_path / "stdout.log") as gateway:
        warnings = [json.loads(line) for line in gateway.lines() if "development secret" in line]
    assert warnings and warnings[0]["level"] == "WARNING"
