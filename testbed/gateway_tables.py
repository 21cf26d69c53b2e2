"""The gateway's two DynamoDB tables as the serving stack defines them, created in moto for tests and benchmarks."""

from __future__ import annotations

from typing import Any

from safedeploy.operations.api_keys import issue_key

# Key schemas: the serving stack's tables (asserted against the template in the stack tests).
API_KEYS_PARTITION_KEY = "key_id"
FEEDBACK_PARTITION_KEY = "prediction_key"


def create_gateway_tables(dynamodb: Any, prefix: str) -> tuple[str, str]:
    """(API keys table, feedback table), on-demand like the stack's; a table moto already holds is kept."""
    names = (f"{prefix}-gateway-api-keys", f"{prefix}-gateway-feedback")
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
