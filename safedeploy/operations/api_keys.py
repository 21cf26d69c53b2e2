"""API keys of the inference gateway: issued once, stored as a SHA-256, revoked by id.

The key is printed to the operator once and never stored; the table holds its digest, the scopes (`predict`,
`feedback`), who it is for, and an optional expiry. The gateway (`serving/gateway/api_keys.py`) reads the same
record layout: `key_id` (partition key), `secret_sha256`, `scopes`, `status`, `expires_at`, `name`.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

from safedeploy.errors import InputError

KEY_PREFIX = "sdgw"
SCOPES = ("predict", "feedback")
MAX_KEY_LIFETIME_DAYS = 3660  # ten years: a key meant to outlive that should have no expiry
ACTIVE, REVOKED = "active", "revoked"


@dataclass(frozen=True)
class IssuedKey:
    key_id: str
    api_key: str
    scopes: tuple[str, ...]
    name: str

    def summary(self) -> str:
        return (
            f"API key {self.key_id} for {self.name} ({', '.join(self.scopes)}): {self.api_key}\n"
            "Store it now: only its SHA-256 is kept."
        )


def new_api_key() -> tuple[str, str]:
    """(key id, key): 64 bits of id and 256 bits of secret."""
    key_id = secrets.token_hex(8)
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode("ascii")
    return key_id, f"{KEY_PREFIX}.{key_id}.{secret}"


def issue_key(
    dynamodb: Any, table: str, name: str, scopes: tuple[str, ...], expires_in_days: int | None = None
) -> IssuedKey:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise InputError(f"scopes {list(scopes)}: choose from {', '.join(SCOPES)}")
    if not name.strip():
        raise InputError("--name is required: whom the key is for, so that logs and feedback records name them")
    key_id, api_key = new_api_key()
    item: dict[str, Any] = {
        "key_id": {"S": key_id},
        "secret_sha256": {"S": hashlib.sha256(api_key.encode("ascii")).hexdigest()},
        "scopes": {"SS": sorted(set(scopes))},
        "status": {"S": ACTIVE},
        "name": {"S": name},
        "created_at": {"N": str(int(time.time()))},
    }
    if expires_in_days is not None:
        if not 1 <= expires_in_days <= MAX_KEY_LIFETIME_DAYS:
            raise InputError(f"--expires-in-days {expires_in_days}: 1-{MAX_KEY_LIFETIME_DAYS}")
        item["expires_at"] = {"N": str(int(time.time()) + expires_in_days * 86400)}
    dynamodb.put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(key_id)")
    return IssuedKey(key_id, api_key, tuple(sorted(set(scopes))), name)


def revoke_key(dynamodb: Any, table: str, key_id: str) -> None:
    """Mark the key revoked (kept for the audit trail); gateways stop accepting it within their cache time."""
    dynamodb.update_item(
        TableName=table,
        Key={"key_id": {"S": key_id}},
        UpdateExpression="SET #status = :revoked, revoked_at = :now",
        ConditionExpression="attribute_exists(key_id)",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":revoked": {"S": REVOKED}, ":now": {"N": str(int(time.time()))}},
    )
