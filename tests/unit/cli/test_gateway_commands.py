"""`safedeploy api-key create / revoke` on moto: the key is printed once, only its digest is stored, and the
gateway accepts it until it is revoked."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Iterator
from typing import Any

import pytest

import safedeploy.cli.gateway_commands as gateway_commands
from safedeploy.cli import main
from safedeploy.naming import Naming
from safedeploy.parameters import Param, parameter_name
from serving.gateway.api_keys import FEEDBACK, PREDICT, ApiKeyVerifier, dynamodb_fetch
from serving.gateway.errors import GatewayError
from serving.gateway.rate_limit import RateLimiter
from testbed.aws import SESSION, in_process_aws
from testbed.deploy_world import ENV, PROJECT
from testbed.gateway_tables import create_gateway_tables

ENVIRONMENT = ["--project", PROJECT, "--env", ENV]


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with in_process_aws(monkeypatch):
        keys_table, _ = create_gateway_tables(SESSION.client("dynamodb"), Naming(PROJECT, ENV))
        SESSION.client("ssm").put_parameter(
            Name=parameter_name(PROJECT, ENV, Param.GATEWAY_API_KEYS_TABLE), Value=keys_table, Type="String"
        )
        monkeypatch.setattr(gateway_commands, "session", lambda args: SESSION)
        yield keys_table


def _verify(table: str, key: str, scope: str) -> Any:
    verifier = ApiKeyVerifier(
        dynamodb_fetch(SESSION.client("dynamodb"), table), cache_seconds=0, unknown_lookups=RateLimiter(1e9, 10**9)
    )
    return asyncio.run(verifier.authenticate(key, scope))


def test_a_created_key_is_printed_once_and_stored_as_a_digest(table: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["api-key", "create", *ENVIRONMENT, "--name", "labelling", "--scope", "feedback"]) == 0
    key = re.search(r"sdgw\.[0-9a-f]{16}\.[A-Za-z0-9_-]{43}", capsys.readouterr().out).group(0)  # type: ignore[union-attr]
    (item,) = SESSION.client("dynamodb").scan(TableName=table)["Items"]
    assert item["secret_sha256"]["S"] == hashlib.sha256(key.encode()).hexdigest()
    assert key not in str(item) and item["name"]["S"] == "labelling" and item["scopes"]["SS"] == ["feedback"]
    assert _verify(table, key, FEEDBACK).key_id == key.split(".")[1]
    with pytest.raises(GatewayError, match="may not call predict"):
        _verify(table, key, PREDICT)

    assert main(["api-key", "revoke", *ENVIRONMENT, key.split(".")[1]]) == 0
    with pytest.raises(GatewayError, match="unknown or revoked"):
        _verify(table, key, FEEDBACK)


def test_revoking_an_unknown_key_says_so(table: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["api-key", "revoke", *ENVIRONMENT, "0123456789abcdef"]) == 2
    assert "no API key 0123456789abcdef" in capsys.readouterr().err
