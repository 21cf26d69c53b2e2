"""SigV4 signatures for InvokeEndpoint sent over the gateway's own async HTTP client.

boto3's client is synchronous and spends about a millisecond of CPU per call; botocore's signer alone takes about
80 us, because it re-derives the signing key and re-parses the URL on every request. This signer handles the one
request shape the gateway sends (POST, no query string, fixed headers) and caches the signing key for the day, so it
costs a tenth of that. botocore still provides what must be right: the credential chain (task role, with refresh)
and the endpoint URL (with `AWS_ENDPOINT_URL_*` overrides). A unit test checks signatures against botocore's.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from typing import Any
from urllib.parse import urlsplit

import boto3

ALGORITHM = "AWS4-HMAC-SHA256"
SIGNING_NAME = "sagemaker"
DEFAULT_PORTS = {"http": 80, "https": 443}


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def host_header(url: str) -> str:
    """The Host value HTTP clients send: the port only when it is not the scheme's default."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return host if parts.port in (None, DEFAULT_PORTS.get(parts.scheme)) else f"{host}:{parts.port}"


class RequestSigner:
    def __init__(self, region: str) -> None:
        self._region = region
        self._key_cache: tuple[str, str, bytes] | None = None  # (secret key, date, signing key)

    def _signing_key(self, secret_key: str, date: str) -> bytes:
        if self._key_cache is None or self._key_cache[:2] != (secret_key, date):
            key = _hmac(f"AWS4{secret_key}".encode(), date)
            for part in (self._region, SIGNING_NAME, "aws4_request"):
                key = _hmac(key, part)
            self._key_cache = (secret_key, date, key)
        return self._key_cache[2]

    def sign(self, credentials: Any, url: str, body: bytes, headers: dict[str, str], now: float) -> dict[str, str]:
        """`headers` plus X-Amz-Date, the session token if any, and Authorization, for a POST of `body` to `url`."""
        amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
        date = amz_date[:8]
        signed = {name.lower(): value.strip() for name, value in headers.items()}
        signed["host"] = host_header(url)
        signed["x-amz-date"] = amz_date
        if credentials.token:
            signed["x-amz-security-token"] = credentials.token
        names = sorted(signed)
        signed_headers = ";".join(names)
        canonical_request = "\n".join(
            [
                "POST",
                urlsplit(url).path or "/",
                "",
                "".join(f"{name}:{signed[name]}\n" for name in names),
                signed_headers,
                hashlib.sha256(body).hexdigest(),
            ]
        )
        scope = f"{date}/{self._region}/{SIGNING_NAME}/aws4_request"
        string_to_sign = f"{ALGORITHM}\n{amz_date}\n{scope}\n{hashlib.sha256(canonical_request.encode()).hexdigest()}"
        signature = hmac.new(
            self._signing_key(credentials.secret_key, date), string_to_sign.encode(), hashlib.sha256
        ).hexdigest()
        authorization = f"{ALGORITHM} Credential={credentials.access_key}/{scope}, "
        authorization += f"SignedHeaders={signed_headers}, Signature={signature}"
        extra = {"X-Amz-Date": amz_date, "Authorization": authorization}
        if credentials.token:
            extra["X-Amz-Security-Token"] = credentials.token
        return {**headers, **extra}


class RuntimeSigner:
    """Signs with the current credentials of the default chain (in ECS: the task role)."""

    def __init__(self, session: boto3.session.Session, region: str) -> None:
        credentials = session.get_credentials()
        if credentials is None:
            raise RuntimeError("no AWS credentials found (the ECS task role provides them)")
        self._credentials: Any = credentials
        self._signer = RequestSigner(region)
        self.endpoint_url: str = session.client("sagemaker-runtime", region_name=region).meta.endpoint_url

    async def _frozen_credentials(self) -> Any:
        """Task-role credentials expire; refreshing them is an HTTP call, kept off the event loop."""
        refresh_needed = getattr(self._credentials, "refresh_needed", None)
        if refresh_needed is not None and refresh_needed():
            return await asyncio.to_thread(self._credentials.get_frozen_credentials)
        return self._credentials.get_frozen_credentials()

    async def signed_headers(self, url: str, body: bytes, headers: dict[str, str]) -> dict[str, str]:
        return self._signer.sign(await self._frozen_credentials(), url, body, headers, time.time())
