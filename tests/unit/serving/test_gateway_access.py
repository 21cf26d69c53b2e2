"""API keys, per-caller limits and once-only feedback, each against its contract (DynamoDB in moto)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from safedeploy.naming import Naming
from safedeploy.operations.api_keys import issue_key, new_api_key, revoke_key
from serving.gateway import api_keys
from serving.gateway.api_keys import FEEDBACK, PREDICT, ApiKeyVerifier, OpenAccess, dynamodb_fetch, key_digest
from serving.gateway.errors import GatewayError
from serving.gateway.feedback_store import FeedbackRecord, FeedbackStore
from serving.gateway.rate_limit import RateLimiter
from testbed.aws import SESSION, in_process_aws
from testbed.gateway_tables import create_gateway_tables


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with in_process_aws(monkeypatch):
        yield SESSION.client("dynamodb")


@pytest.fixture
def tables(dynamodb: Any) -> tuple[str, str]:
    return create_gateway_tables(dynamodb, Naming("unit", "test"))


def _unlimited() -> RateLimiter:
    return RateLimiter(rate=1e9, burst=10**9)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _refusal(coroutine: Any) -> tuple[int, str]:
    with pytest.raises(GatewayError) as raised:
        asyncio.run(coroutine)
    return raised.value.status, raised.value.code


def test_an_issued_key_authenticates_with_its_scopes(dynamodb: Any, tables: tuple[str, str]) -> None:
    issued = issue_key(dynamodb, tables[0], "labelling job", ("feedback", "predict"))
    verifier = ApiKeyVerifier(dynamodb_fetch(dynamodb, tables[0]), 60, _unlimited())
    caller = asyncio.run(verifier.authenticate(issued.api_key, FEEDBACK))
    assert (caller.key_id, caller.scopes) == (issued.key_id, frozenset({PREDICT, FEEDBACK}))
    stored = dynamodb.get_item(TableName=tables[0], Key={"key_id": {"S": issued.key_id}})["Item"]
    assert issued.api_key not in str(stored)  # only the digest is kept


def test_scopes_expiry_and_revocation_are_enforced(dynamodb: Any, tables: tuple[str, str]) -> None:
    predict_only = issue_key(dynamodb, tables[0], "app", ("predict",))
    expiring = issue_key(dynamodb, tables[0], "trial", ("predict",), expires_in_days=1)
    clock, wall = Clock(), Clock()
    wall.now = 10**10  # far past the expiry
    verifier = ApiKeyVerifier(dynamodb_fetch(dynamodb, tables[0]), 60, _unlimited(), clock=clock, now=wall)
    assert _refusal(verifier.authenticate(predict_only.api_key, FEEDBACK)) == (403, "forbidden")
    assert _refusal(verifier.authenticate(expiring.api_key, PREDICT)) == (401, "unauthorized")
    assert _refusal(verifier.authenticate(None, PREDICT)) == (401, "unauthorized")
    revoke_key(dynamodb, tables[0], predict_only.key_id)
    asyncio.run(verifier.authenticate(predict_only.api_key, PREDICT))  # still cached
    clock.now += 61
    assert _refusal(verifier.authenticate(predict_only.api_key, PREDICT)) == (401, "unauthorized")


def test_lookups_are_cached_for_known_and_unknown_ids() -> None:
    calls: list[str] = []

    def fetch(key_id: str) -> None:
        calls.append(key_id)

    verifier = ApiKeyVerifier(fetch, 60, _unlimited(), clock=Clock())
    _, unknown = new_api_key()
    for _ in range(5):
        assert _refusal(verifier.authenticate(unknown, PREDICT)) == (401, "unauthorized")
    assert len(calls) == 1
    assert _refusal(verifier.authenticate("sdgw.zz.yy", PREDICT)) == (401, "unauthorized")
    assert len(calls) == 1  # malformed keys never reach DynamoDB


class KeyTable:
    """GetItem of one issued key (revocable), counting every read."""

    def __init__(self) -> None:
        self.key_id, self.api_key = new_api_key()
        self.status = "active"
        self.reads = 0

    def __call__(self, key_id: str) -> dict[str, Any] | None:
        self.reads += 1
        if key_id != self.key_id:
            return None
        return {"secret_sha256": key_digest(self.api_key), "scopes": ["predict"], "status": self.status}


def _unknown_keys(count: int) -> list[str]:
    return [f"sdgw.{index:016x}.{'A' * 43}" for index in range(count)]


def test_random_ids_cannot_push_an_issued_key_out_of_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unknown ids shared the issued keys' LRU: 10,000 random ids evicted every issued key (each then read again)."""
    monkeypatch.setattr(api_keys, "MAX_CACHED_KEYS", 10)
    monkeypatch.setattr(api_keys, "MAX_CACHED_UNKNOWN_IDS", 10)
    table = KeyTable()
    verifier = ApiKeyVerifier(table, 60, _unlimited(), clock=Clock())

    async def run() -> None:
        await verifier.authenticate(table.api_key, PREDICT)
        for key in _unknown_keys(50):
            with pytest.raises(GatewayError):
                await verifier.authenticate(key, PREDICT)
        reads = table.reads
        await verifier.authenticate(table.api_key, PREDICT)
        assert table.reads == reads  # still cached

    asyncio.run(run())


def test_unknown_ids_spend_a_budget_that_issued_keys_and_revocation_do_not_wait_for() -> None:
    """Each well-formed unknown id cost a GetItem; now the budget's burst is read and the rest answer 429."""
    clock, budget_clock = Clock(), Clock()
    table = KeyTable()
    verifier = ApiKeyVerifier(table, 60, RateLimiter(rate=0.5, burst=3, clock=budget_clock), clock=clock)
    asyncio.run(verifier.authenticate(table.api_key, PREDICT))  # one of the three
    refusals = [_refusal(verifier.authenticate(key, PREDICT)) for key in _unknown_keys(10)]
    assert refusals == [(401, "unauthorized")] * 2 + [(429, "key_lookups_limited")] * 8
    assert table.reads == 3
    with pytest.raises(GatewayError) as raised:
        asyncio.run(verifier.authenticate(_unknown_keys(11)[-1], PREDICT))
    assert raised.value.headers["Retry-After"] == "2"

    clock.now += 61  # every cached answer is stale, the budget still spent
    table.status = "revoked"
    assert _refusal(verifier.authenticate(table.api_key, PREDICT)) == (401, "unauthorized")  # re-read, no budget
    assert table.reads == 4
    assert _refusal(verifier.authenticate(_unknown_keys(1)[0], PREDICT)) == (429, "key_lookups_limited")
    budget_clock.now += 2  # one lookup back
    assert _refusal(verifier.authenticate(_unknown_keys(1)[0], PREDICT)) == (401, "unauthorized")


def test_open_access_predicts_but_never_sends_feedback() -> None:
    assert asyncio.run(OpenAccess().authenticate(None, PREDICT)).key_id == "anonymous"
    assert _refusal(OpenAccess().authenticate(None, FEEDBACK)) == (401, "unauthorized")


def test_the_limiter_allows_the_burst_then_the_rate_per_caller() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=10, burst=3, clock=clock)
    for _ in range(3):
        limiter.take("a")
    with pytest.raises(GatewayError) as raised:
        limiter.take("a")
    assert (raised.value.status, raised.value.headers["Retry-After"]) == (429, "1")
    limiter.take("b")  # callers do not share a bucket
    clock.now += 0.1  # one token back at 10 a second
    limiter.take("a")
    with pytest.raises(GatewayError):
        limiter.take("a")


def _record(key: str = "sig") -> FeedbackRecord:
    return FeedbackRecord(key, "v1", 1, 0, "k1", 1700000000, 1700003600)


def test_feedback_is_written_once(dynamodb: Any, tables: tuple[str, str]) -> None:
    store = FeedbackStore(dynamodb, tables[1], retry_after_seconds=5)
    asyncio.run(store.record_once(_record()))
    assert _refusal(store.record_once(_record())) == (409, "feedback_already_received")
    asyncio.run(store.record_once(_record("other")))
    items = dynamodb.scan(TableName=tables[1])["Items"]
    assert sorted(item["prediction_key"]["S"] for item in items) == ["other", "sig"]
    (first,) = [item for item in items if item["prediction_key"]["S"] == "sig"]
    assert first["expires_at"] == {"N": "1700003600"} and first["key_id"] == {"S": "k1"}


def test_a_dynamodb_failure_is_a_503_not_a_count(dynamodb: Any) -> None:
    store = FeedbackStore(dynamodb, "missing-table", retry_after_seconds=5)
    with pytest.raises(GatewayError) as raised:
        asyncio.run(store.record_once(_record()))
    assert (raised.value.status, raised.value.code, raised.value.headers) == (
        503,
        "feedback_unavailable",
        {"Retry-After": "5"},
    )
    assert isinstance(raised.value.__cause__, ClientError)


class LostAnswer:
    """A DynamoDB client whose first PutItem is written but answered with a timeout, as the SDK would then retry."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls = 0

    def put_item(self, **request: Any) -> Any:
        self.calls += 1
        answer = self._client.put_item(**request)
        if self.calls == 1:
            return self._client.put_item(**request)  # the SDK's retry of a write that already happened
        return answer


def test_a_retried_write_of_the_same_feedback_still_counts_once(dynamodb: Any, tables: tuple[str, str]) -> None:
    lost = LostAnswer(dynamodb)
    asyncio.run(FeedbackStore(lost, tables[1], retry_after_seconds=5).record_once(_record()))
    assert lost.calls == 1
    assert _refusal(FeedbackStore(dynamodb, tables[1], 5).record_once(_record())) == (409, "feedback_already_received")
