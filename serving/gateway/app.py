"""The FastAPI application: the routes, and the app that serves them in each worker process."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.responses import Response

from .api_keys import API_KEY_HEADER, FEEDBACK, PREDICT, Caller
from .errors import GatewayError, error_response
from .feedback_store import FeedbackRecord
from .instances import parse_instances
from .json_logging import configure_logging, request_id_var
from .prediction_id import ExpiredPredictionId, InvalidPredictionId, PredictionClaims, prediction_key
from .request_body import JSON, media_type, read_body, unsupported_media_type
from .request_context import RequestContextMiddleware, log_fields
from .services import Services, open_services
from .settings import Settings, load_settings
from .signing_secret import resolve_signing_secret

# Candidate variants are named after their model version (`v12`); the serving variant's version is not in its name.
VERSIONED_VARIANT = re.compile(r"^v(\d+)$")


def _json(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status_code=status, headers=headers, media_type=JSON)


def model_version(variant: str) -> int | None:
    match = VERSIONED_VARIANT.match(variant)
    return int(match.group(1)) if match else None


def _services_of(request: Request) -> Services:
    return request.app.state.services


async def _caller(request: Request, services: Services, scope: str) -> Caller:
    """Authenticate before the body is read, so an anonymous caller costs neither a read nor a parse."""
    caller = await services.access.authenticate(request.headers.get(API_KEY_HEADER), scope)
    log_fields(request.scope)["caller"] = caller.key_id
    services.limiter.take(caller.key_id)
    return caller


async def predict(request: Request) -> Response:
    services = _services_of(request)
    await _caller(request, services, PREDICT)
    body = await read_body(request, services.settings.max_body_bytes)
    rows = parse_instances(media_type(request), body, services.schema)
    answer = await services.endpoint.invoke(rows)
    services.metrics.record_prediction(answer.variant, answer.latency_ms, len(rows))
    if services.histograms is not None:
        services.histograms.add(answer.variant, rows, answer.values)
    log_fields(request.scope).update(variant=answer.variant, instances=len(rows))
    issued_at = int(time.time())
    predictions = []
    for value in answer.values:
        claims = PredictionClaims(answer.variant, services.answers.predicted(value), issued_at)
        predictions.append({"prediction_id": services.ids.issue(claims), **services.answers.shown(value)})
    return _json(
        {
            "predictions": predictions,
            "variant": answer.variant,
            "model_version": model_version(answer.variant),
            "request_id": request_id_var.get(),
        }
    )


async def feedback(request: Request) -> Response:
    """Counted only once per prediction id and only for a caller whose key holds the feedback scope."""
    services = _services_of(request)
    caller = await _caller(request, services, FEEDBACK)
    if services.feedback is None:
        raise GatewayError(503, "feedback_unavailable", "this gateway has no feedback table")
    if media_type(request) != JSON:
        raise unsupported_media_type(media_type(request), (JSON,))
    prediction_id, truth = services.answers.parse_feedback(await read_body(request, services.settings.max_body_bytes))
    try:
        claims = services.ids.verify(prediction_id, time.time())
    except InvalidPredictionId as error:
        raise GatewayError(422, "invalid_prediction_id", str(error)) from None
    except ExpiredPredictionId as error:
        raise GatewayError(422, "prediction_id_expired", str(error)) from None
    now = int(time.time())
    await services.feedback.record_once(
        FeedbackRecord(
            prediction_key=prediction_key(prediction_id),
            variant=claims.variant,
            predicted=claims.predicted,
            truth=truth,
            key_id=caller.key_id,
            received_at=now,
            expires_at=claims.issued_at + services.settings.feedback_max_age_seconds,
        )
    )
    correct = services.answers.correct(claims.predicted, truth)
    services.metrics.record_feedback(claims.variant, correct)
    log_fields(request.scope).update(variant=claims.variant)
    return _json({"variant": claims.variant, "correct": correct, "request_id": request_id_var.get()})


async def live(request: Request) -> Response:
    return _json({"status": "live"})


async def ready(request: Request) -> Response:
    """The state only: endpoint names, statuses and failure reasons go to the log (`ReadinessProbe`)."""
    services = _services_of(request)
    readiness = await services.readiness.check()
    body = {"status": readiness.state}
    if readiness.ready:
        return _json(body)
    return _json(body, status=503, headers={"Retry-After": str(services.settings.retry_after_seconds)})


async def _gateway_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, GatewayError)
    return error_response(error.status, error.code, error.message, request_id_var.get(), error.headers)


async def _http_error(request: Request, error: Exception) -> Response:
    """Unknown paths and wrong methods answer in the same JSON shape as every other refusal."""
    assert isinstance(error, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
    return error_response(error.status_code, code, str(error.detail), request_id_var.get(), error.headers)


def build_app(settings: Settings, secret: bytes) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_services(settings, secret) as services:
            app.state.services = services
            yield

    app = FastAPI(title="Inference gateway", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    # Plain routes: the handlers read the raw body themselves, so FastAPI's per-request dependency solving and
    # body validation would be pure cost on the hot path.
    app.add_route("/predict", predict, methods=["POST"])
    app.add_route("/feedback", feedback, methods=["POST"])
    app.add_route("/health/live", live, methods=["GET"])
    app.add_route("/health/ready", ready, methods=["GET"])
    app.add_exception_handler(GatewayError, _gateway_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_middleware(RequestContextMiddleware)
    return app


def create_app() -> FastAPI:
    """The uvicorn factory: configuration comes from the environment, as the serving stack sets it."""
    settings = load_settings(os.environ)
    configure_logging(settings.log_level)
    return build_app(settings, resolve_signing_secret(os.environ, settings.region))
