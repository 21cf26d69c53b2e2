"""The gateway's two DynamoDB tables as the serving stack defines them, created in moto for tests and benchmarks."""

from __future__ import annotations

from typing import Any

from safedeploy.naming import Naming
from safedeploy.operations.api_keys import issue_key
from stacks.serving.gateway_tables import API_KEYS_PARTITION_KEY, FEEDBACK_PARTITION_KEY


def create_gateway_tables(dynamodb: Any, naming: Naming) -> tuple[str, str]:
    """(API keys table, feedback table) of `naming`'s environment, on-demand and keyed like the serving stack's; a
    table moto already holds is kept."""
    names = (naming.api_keys_table, naming.feedback_table)
    existing = set(dynamodb.list_tables()["TableNames"])
    for name, key in zip(names, (API_KEYS_PARTITION_KEY, FEEDBACK_PARTITION_KEY), strict=True):
        if name in existing:
            continue
        dynamodb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    return names


def issue_test_key(dynamodb: Any, table: str, *scopes: str, name: str = "tests") -> str:
    return issue_key(dynamodb, table, name, scopes or ("predict", "feedback")).api_key
