"""Prediction ids carry variant, prediction and issue time, and cannot be altered or forged without the key."""

from __future__ import annotations

import base64
import json

import pytest

from serving.gateway.prediction_id import (
    ExpiredPredictionId,
    InvalidPredictionId,
    PredictionClaims,
    PredictionIdSigner,
)

KEY = b"a-key-of-at-least-thirty-two-bytes!!"
NOW = 1_800_000_000
CLAIMS = PredictionClaims(variant="v12", predicted=1, issued_at=NOW)


@pytest.fixture
def signer() -> PredictionIdSigner:
    return PredictionIdSigner(KEY, max_age_seconds=3600)


def test_a_token_round_trips_and_each_is_unique(signer: PredictionIdSigner) -> None:
    first, second = signer.issue(CLAIMS), signer.issue(CLAIMS)
    assert first != second
    assert signer.verify(first, NOW + 10) == signer.verify(second, NOW + 10) == CLAIMS


def test_another_task_with_the_same_key_verifies_it(signer: PredictionIdSigner) -> None:
    assert PredictionIdSigner(KEY, 3600).verify(signer.issue(CLAIMS), NOW) == CLAIMS


def _reclaim(token: str, **changes: object) -> str:
    version, claims, signature = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    body.update(changes)
    encoded = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    return f"{version}.{encoded}.{signature}"


@pytest.mark.parametrize("changes", [{"l": 0}, {"v": "v13"}, {"t": NOW + 100}])
def test_altered_claims_break_the_signature(signer: PredictionIdSigner, changes: dict[str, object]) -> None:
    with pytest.raises(InvalidPredictionId, match="signature does not match"):
        signer.verify(_reclaim(signer.issue(CLAIMS), **changes), NOW)


def test_a_regressors_value_round_trips(signer: PredictionIdSigner) -> None:
    claims = PredictionClaims(variant="AllTraffic", predicted=312.75, issued_at=NOW)
    assert signer.verify(signer.issue(claims), NOW) == claims


@pytest.mark.parametrize("predicted", [True, "1", None, [1]])
def test_a_signed_token_whose_prediction_is_not_a_number_is_refused(
    signer: PredictionIdSigner, predicted: object
) -> None:
    """Only a key shared with another format could sign these: still refused, not credited."""
    token = signer.issue(CLAIMS)
    version, claims, _ = _reclaim(token, l=predicted).split(".")
    forged = f"{version}.{claims}.{signer._signature(f'{version}.{claims}')}"
    with pytest.raises(InvalidPredictionId, match="claims are malformed"):
        signer.verify(forged, NOW)


def test_a_token_from_another_key_is_refused(signer: PredictionIdSigner) -> None:
    foreign = PredictionIdSigner(b"another-key-of-thirty-two-bytes-or-more", 3600).issue(CLAIMS)
    with pytest.raises(InvalidPredictionId):
        signer.verify(foreign, NOW)


@pytest.mark.parametrize("token", ["", "p1", "p1..", "p2.abc.def", "p1.abc", "x" * 600, "p1.ü.sig"])
def test_malformed_tokens_are_refused(signer: PredictionIdSigner, token: str) -> None:
    with pytest.raises(InvalidPredictionId):
        signer.verify(token, NOW)


def test_age_limits(signer: PredictionIdSigner) -> None:
    token = signer.issue(CLAIMS)
    assert signer.verify(token, NOW + 3600) == CLAIMS
    with pytest.raises(ExpiredPredictionId, match="issued 3601 s ago; feedback is accepted for 3600 s"):
        signer.verify(token, NOW + 3601)
    with pytest.raises(InvalidPredictionId, match="in the future"):
        signer.verify(token, NOW - 301)
