"""InvokeEndpoint with a deadline per attempt, bounded retries, and SageMaker's answers translated for callers.

Only failures a second attempt can cure are retried (throttling, 5xx, timeouts, dropped connections); a model that
rejects the input (ModelError) answers the same way again. Every failed attempt is reported to `on_error` with the
variant that failed when SageMaker names it, so a failing candidate shows up in its own PredictErrors.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import aiohttp

from safedeploy.model_wire import UnreadableAnswer, decode_answers, encode_rows

from .aws_signing import RuntimeSigner
from .errors import GatewayError
from .metrics import UNKNOWN_VARIANT

VARIANT_HEADER = "x-Amzn-Invoked-Production-Variant"
ERROR_TYPE_HEADER = "x-amzn-ErrorType"
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504, 530})
THROTTLING_CODES = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException"})
MODEL_ERROR_STATUS = 424

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelWire:
    """The model's content type and the kind of its answer (`model.contract` in cdk.json)."""

    content_type: str
    answer_kind: str

    def read_answers(self, payload: bytes, expected: int) -> list[float]:
        try:
            values = decode_answers(self.content_type, payload, self.answer_kind)
        except UnreadableAnswer as error:
            # What the model said stays in the log: it is the operator's to read, not the caller's.
            logger.error("unreadable model answer", extra={"fields": {"detail": str(error)}})
            values = []
        if len(values) != expected:
            raise GatewayError(
                502, "bad_model_output", f"the model answered {len(values)} valid answers for {expected} instances"
            )
        return values


@dataclass(frozen=True)
class EndpointAnswer:
    values: list[float]  # one per row: a probability or a value (`ModelWire.answer_kind`)
    variant: str
    latency_ms: float


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    backoff_seconds: float
    retry_after_seconds: int

    def delay(self, attempt: int) -> float:
        """Full jitter: tasks that failed together do not come back together."""
        return random.uniform(0, self.backoff_seconds * 2**attempt)


class _Retryable(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


def _error_code(response: aiohttp.ClientResponse, payload: bytes) -> tuple[str, str]:
    """SageMaker names the error in a header (`Code:detail`) and in the JSON body; either may be missing."""
    code = response.headers.get(ERROR_TYPE_HEADER, "").split(":", 1)[0]
    message = ""
    try:
        document = json.loads(payload)
        if isinstance(document, dict):
            code = code or str(document.get("__type") or document.get("code") or "").rsplit("#", 1)[-1]
            message = str(document.get("message") or document.get("Message") or "")
    except (json.JSONDecodeError, UnicodeDecodeError):
        pass
    return code or f"HTTP{response.status}", message


class EndpointClient:
    def __init__(
        self,
        http: aiohttp.ClientSession,
        signer: RuntimeSigner,
        wire: ModelWire,
        endpoint_name: str,
        timeout: aiohttp.ClientTimeout,
        retry: RetryPolicy,
        on_error: Callable[[str | None], None],
    ) -> None:
        self._http = http
        self._signer = signer
        self._wire = wire
        self._url = f"{signer.endpoint_url}/endpoints/{endpoint_name}/invocations"
        self._timeout = timeout
        self._retry = retry
        self._on_error = on_error

    async def invoke(self, rows: Sequence[Sequence[float]]) -> EndpointAnswer:
        body = encode_rows(self._wire.content_type, rows)
        last: _Retryable | None = None
        for attempt in range(self._retry.max_attempts):
            if attempt:
                await asyncio.sleep(self._retry.delay(attempt - 1))
            try:
                return await self._attempt(body, len(rows))
            except _Retryable as failure:
                last = failure
                fields = {"attempt": attempt + 1, "code": failure.code, "detail": str(failure)}
                logger.warning("endpoint attempt failed", extra={"fields": fields})
        assert last is not None  # max_attempts >= 1, so the loop ran and every attempt failed
        raise self._unavailable(
            "endpoint_timeout" if last.code == "Timeout" else "endpoint_unavailable",
            f"the model endpoint did not answer after {self._retry.max_attempts} attempts ({last.code}); retry later",
        )

    def _unavailable(self, code: str, message: str) -> GatewayError:
        return GatewayError(503, code, message, headers={"Retry-After": str(self._retry.retry_after_seconds)})

    async def _attempt(self, body: bytes, rows: int) -> EndpointAnswer:
        content_type = self._wire.content_type
        headers = await self._signer.signed_headers(
            self._url, body, {"Content-Type": content_type, "Accept": content_type}
        )
        started = time.perf_counter()
        try:
            async with self._http.post(self._url, data=body, headers=headers, timeout=self._timeout) as response:
                payload = await response.read()
        except TimeoutError:
            self._on_error(None)
            raise _Retryable("Timeout", "no answer within the timeout") from None
        except aiohttp.ClientError as error:
            self._on_error(None)
            raise _Retryable("ConnectionError", str(error)) from None
        latency_ms = (time.perf_counter() - started) * 1000
        variant = response.headers.get(VARIANT_HEADER) or UNKNOWN_VARIANT
        if response.status == 200:
            try:
                return EndpointAnswer(self._wire.read_answers(payload, rows), variant, latency_ms)
            except GatewayError:
                self._on_error(variant)
                raise
        self._on_error(variant)
        raise self._failure(response, payload)

    def _failure(self, response: aiohttp.ClientResponse, payload: bytes) -> Exception:
        code, message = _error_code(response, payload)
        if response.status in RETRYABLE_STATUSES or code in THROTTLING_CODES:
            return _Retryable(code, message)
        # SageMaker's message can name the account; it goes to the log, not to the caller.
        logger.error(
            "endpoint refused the call", extra={"fields": {"status": response.status, "code": code, "detail": message}}
        )
        if response.status == MODEL_ERROR_STATUS:
            return GatewayError(502, "model_error", "the model failed on this input (SageMaker ModelError)")
        if "not found" in message.lower():
            return self._unavailable("endpoint_unavailable", "the model endpoint does not exist; retry after a deploy")
        return GatewayError(502, "endpoint_rejected", f"the model endpoint refused the call ({code})")
