"""At most one feedback per prediction id: a DynamoDB conditional write decides, for every task at once.

The item's key is the id's signature (unique per id, 43 characters, and only the gateway can produce a valid one).
`attribute_not_exists` makes the first write win; a replay fails the condition and is answered 409 without being
counted. Each write carries a random token: when the SDK retries a PutItem whose answer was lost (a timeout after
DynamoDB had written), the retry fails the condition on our own item, and the token returned with the failure
(`ReturnValuesOnConditionCheckFailure`) tells it apart from a real replay, so that the feedback still counts.
Items expire (DynamoDB TTL) when the id does: after that the id itself is refused as expired, so the record is no
longer needed to refuse a replay.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .errors import GatewayError

CONDITION_FAILED = "ConditionalCheckFailedException"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeedbackRecord:
    prediction_key: str
    variant: str
    predicted: float  # a label (0 or 1) or a value
    truth: float
    key_id: str
    received_at: int
    expires_at: int


class FeedbackStore:
    def __init__(self, client: Any, table_name: str, retry_after_seconds: int) -> None:
        self._client = client
        self._table_name = table_name
        self._retry_after = retry_after_seconds

    def _write(self, record: FeedbackRecord) -> bool:
        token = secrets.token_hex(8)
        try:
            self._client.put_item(
                TableName=self._table_name,
                Item={
                    "prediction_key": {"S": record.prediction_key},
                    "variant": {"S": record.variant},
                    "predicted": {"N": str(record.predicted)},
                    "truth": {"N": str(record.truth)},
                    "key_id": {"S": record.key_id},
                    "received_at": {"N": str(record.received_at)},
                    "expires_at": {"N": str(record.expires_at)},
                    "write_token": {"S": token},
                },
                ConditionExpression="attribute_not_exists(prediction_key)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == CONDITION_FAILED:
                existing = error.response.get("Item", {})
                return existing.get("write_token", {}).get("S") == token  # our own write, retried by the SDK
            raise
        return True

    async def record_once(self, record: FeedbackRecord) -> None:
        """Store the feedback, or raise 409 when this id already has one (503 when DynamoDB cannot answer)."""
        try:
            first = await asyncio.to_thread(self._write, record)
        except (BotoCoreError, ClientError) as error:
            logger.warning("feedback not recorded", extra={"fields": {"error": str(error)}})
            raise GatewayError(
                503,
                "feedback_unavailable",
                "feedback cannot be recorded now; send it again later",
                {"Retry-After": str(self._retry_after)},
            ) from error
        if not first:
            raise GatewayError(409, "feedback_already_received", "this prediction already has its feedback")
