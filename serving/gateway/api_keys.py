"""Caller authentication by API key: the key's SHA-256 lives in a DynamoDB table, never the key itself.

A key is `sdgw.<key id>.<secret>`: the id finds the record (one GetItem), the secret proves possession. Keys are 256
random bits, so a plain SHA-256 is enough (no salt or slow hash: there is no dictionary to attack, unlike passwords).
Each record carries scopes (`predict`, `feedback`), a status and an optional expiry; the operator CLI writes them.

Lookups are cached per worker for `API_KEY_CACHE_SECONDS`, so a revocation takes effect within that time and
authentication costs no DynamoDB call on the hot path. Records of issued keys and answers "no such key" are cached
apart, each bounded, so random ids sent by an attacker cannot push the issued keys out. Every new random id would
still cost a GetItem (and a thread of the worker's pool), so lookups of ids the worker holds no record of spend a
per-worker budget (`UNKNOWN_KEY_LOOKUPS_PER_SECOND`, `UNKNOWN_KEY_LOOKUP_BURST`); past it they answer 429 until it
refills. Ids the worker has seen issued are refreshed outside the budget, at most once per cache period each.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from .errors import GatewayError
from .rate_limit import RateLimiter

KEY_PATTERN = re.compile(r"^sdgw\.([0-9a-f]{16})\.([A-Za-z0-9_-]{43})$")
API_KEY_HEADER = "x-api-key"
PREDICT = "predict"
FEEDBACK = "feedback"
ACTIVE = "active"
# Bounded so that random key ids sent by an attacker cannot grow a worker's memory without limit.
MAX_CACHED_KEYS = 10_000
MAX_CACHED_UNKNOWN_IDS = 10_000
_UNKNOWN_IDS = "unknown key ids"  # the one bucket of the lookup budget

Fetch = Callable[[str], Mapping[str, Any] | None]


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: what the logs, the rate limiter and the feedback records name."""

    key_id: str
    scopes: frozenset[str]


@dataclass(frozen=True)
class _KeyRecord:
    secret_sha256: str
    scopes: frozenset[str]
    active: bool
    expires_at: int | None

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> _KeyRecord:
        expires = item.get("expires_at")
        return cls(
            secret_sha256=str(item.get("secret_sha256", "")),
            scopes=frozenset(str(scope) for scope in item.get("scopes", ())),
            active=item.get("status") == ACTIVE,
            expires_at=int(expires) if expires is not None else None,
        )


def key_digest(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("ascii")).hexdigest()


def unauthorized(message: str) -> GatewayError:
    return GatewayError(401, "unauthorized", message, {"WWW-Authenticate": 'ApiKey header="X-Api-Key"'})


class ApiKeyVerifier:
    def __init__(
        self,
        fetch: Fetch,
        cache_seconds: float,
        unknown_lookups: RateLimiter,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._fetch = fetch
        self._cache_seconds = cache_seconds
        self._unknown_lookups = unknown_lookups
        self._clock = clock
        self._now = now
        self._issued: OrderedDict[str, tuple[float, _KeyRecord]] = OrderedDict()
        self._unknown: OrderedDict[str, float] = OrderedDict()

    def _fresh(self, looked_up: float) -> bool:
        return self._clock() - looked_up < self._cache_seconds

    async def _record(self, key_id: str) -> _KeyRecord | None:
        issued = self._issued.get(key_id)
        if issued is not None and self._fresh(issued[0]):
            return issued[1]
        unknown = self._unknown.get(key_id)
        if unknown is not None and self._fresh(unknown):
            return None
        if issued is None:
            wait = self._unknown_lookups.spend(_UNKNOWN_IDS)
            if wait:
                raise GatewayError(
                    429,
                    "key_lookups_limited",
                    f"more than {self._unknown_lookups.rate:g} API keys a second that this gateway has not seen",
                    {"Retry-After": str(wait)},
                )
        item = await asyncio.to_thread(self._fetch, key_id)
        if item is None:
            self._issued.pop(key_id, None)
            _remember(self._unknown, key_id, self._clock(), MAX_CACHED_UNKNOWN_IDS)
            return None
        record = _KeyRecord.from_item(item)
        self._unknown.pop(key_id, None)
        _remember(self._issued, key_id, (self._clock(), record), MAX_CACHED_KEYS)
        return record

    async def authenticate(self, header: str | None, scope: str) -> Caller:
        """The caller of a request whose X-Api-Key is `header`, allowed `scope`; 401 or 403 otherwise."""
        if not header:
            raise unauthorized("an API key is required: send it in the X-Api-Key header")
        match = KEY_PATTERN.match(header.strip())
        if match is None:
            raise unauthorized("the X-Api-Key header is not an API key issued for this gateway")
        key_id = match.group(1)
        record = await self._record(key_id)
        valid = record is not None and hmac.compare_digest(record.secret_sha256, key_digest(header.strip()))
        if not valid or record is None or not record.active:
            raise unauthorized("the API key is unknown or revoked")
        if record.expires_at is not None and self._now() >= record.expires_at:
            raise unauthorized("the API key has expired")
        if scope not in record.scopes:
            raise GatewayError(403, "forbidden", f"this API key may not call {scope}")
        return Caller(key_id, record.scopes)


def _remember(cache: OrderedDict[str, Any], key_id: str, value: Any, limit: int) -> None:
    cache[key_id] = value
    cache.move_to_end(key_id)
    while len(cache) > limit:
        cache.popitem(last=False)


class OpenAccess:
    """ALLOW_UNAUTHENTICATED=true (a laptop, a test): every caller may predict, nobody may send feedback."""

    ANONYMOUS = Caller("anonymous", frozenset({PREDICT}))

    async def authenticate(self, header: str | None, scope: str) -> Caller:
        if scope not in self.ANONYMOUS.scopes:
            raise unauthorized(f"{scope} needs an API key, and this gateway runs without API keys")
        return self.ANONYMOUS


def dynamodb_fetch(client: Any, table_name: str) -> Fetch:
    """GetItem by key id with a DynamoDB client (thread-safe, unlike resources); eventually consistent reads cost
    half, and the answer is cached for longer than replication takes anyway."""
    deserializer = TypeDeserializer()

    def fetch(key_id: str) -> Mapping[str, Any] | None:
        item = client.get_item(TableName=table_name, Key={"key_id": {"S": key_id}}).get("Item")
        return None if item is None else {name: deserializer.deserialize(value) for name, value in item.items()}

    return fetch
