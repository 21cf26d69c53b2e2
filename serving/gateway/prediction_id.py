"""Prediction ids as signed, self-contained tokens, so that feedback needs no store shared by the gateway's tasks.

A token carries what feedback must be attributed to (the serving variant and what it predicted: a label or a value)
and when it was issued; the HMAC makes it unforgeable, so a caller cannot credit a truth to a variant that never
served it. Format:
`p1.<base64url JSON claims>.<base64url HMAC-SHA256 of "p1.<claims>">`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import os
from dataclasses import dataclass

VERSION = "p1"
# Clocks of two tasks may disagree a little; a token from further in the future was not issued by a peer.
CLOCK_SKEW_SECONDS = 300
NONCE_BYTES = 9
# Far above a real token (about 130 characters); longer input is refused before any decoding.
MAX_TOKEN_LENGTH = 512


class InvalidPredictionId(ValueError):
    """The id was not issued by a gateway holding this key, or was altered."""


class ExpiredPredictionId(ValueError):
    """The id is genuine but too old for its feedback to say anything about the variant that is serving now."""


@dataclass(frozen=True)
class PredictionClaims:
    variant: str
    predicted: float  # the label of a probability, or the value a regressor answered
    issued_at: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def prediction_key(token: str) -> str:
    """The part that names one id uniquely: its signature (only meaningful for a token `verify` accepted)."""
    return token.rsplit(".", 1)[-1]


class PredictionIdSigner:
    def __init__(self, secret: bytes, max_age_seconds: int) -> None:
        self._secret = secret
        self._max_age = max_age_seconds

    def _signature(self, signed_part: str) -> str:
        return _b64(hmac.new(self._secret, signed_part.encode("ascii"), hashlib.sha256).digest())

    def issue(self, claims: PredictionClaims) -> str:
        # "l" (for label) also holds a value: ids issued before values existed stay readable.
        body = {"v": claims.variant, "l": claims.predicted, "t": claims.issued_at, "n": _b64(os.urandom(NONCE_BYTES))}
        signed_part = f"{VERSION}.{_b64(json.dumps(body, separators=(',', ':')).encode())}"
        return f"{signed_part}.{self._signature(signed_part)}"

    def verify(self, token: str, now: float) -> PredictionClaims:
        version, _, rest = token.partition(".")
        encoded_claims, _, signature = rest.partition(".")
        well_formed = len(token) <= MAX_TOKEN_LENGTH and token.isascii() and encoded_claims and signature
        if version != VERSION or not well_formed:
            raise InvalidPredictionId(f"prediction_id is not a {VERSION} token issued by this gateway")
        if not hmac.compare_digest(signature, self._signature(f"{version}.{encoded_claims}")):
            raise InvalidPredictionId("prediction_id signature does not match: it was altered or not issued here")
        claims = self._decode(encoded_claims)
        if claims.issued_at > now + CLOCK_SKEW_SECONDS:
            raise InvalidPredictionId("prediction_id was issued in the future")
        if now - claims.issued_at > self._max_age:
            raise ExpiredPredictionId(
                f"prediction_id was issued {int(now - claims.issued_at)} s ago; feedback is accepted for "
                f"{self._max_age} s"
            )
        return claims

    @staticmethod
    def _decode(encoded_claims: str) -> PredictionClaims:
        """Only reached with a valid signature, so a failure here means a key shared with a different format."""
        try:
            body = json.loads(_unb64(encoded_claims))
            claims = PredictionClaims(variant=body["v"], predicted=body["l"], issued_at=body["t"])
        except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as error:
            raise InvalidPredictionId("prediction_id claims are unreadable") from error
        predicted = claims.predicted
        number = isinstance(predicted, int | float) and not isinstance(predicted, bool) and math.isfinite(predicted)
        if not isinstance(claims.variant, str) or not number or not isinstance(claims.issued_at, int):
            raise InvalidPredictionId("prediction_id claims are malformed")
        return claims
