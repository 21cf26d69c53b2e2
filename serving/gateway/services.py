"""The gateway's parts wired together for one worker process, and closed in order when it stops."""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass

import aiohttp
import boto3
from botocore.config import Config

from .api_keys import ApiKeyVerifier, OpenAccess, dynamodb_fetch
from .aws_signing import RuntimeSigner
from .drift_histograms import BaselineWatcher, HistogramCounts, HistogramWriter, writer_id
from .endpoint_client import EndpointClient, ModelWire, RetryPolicy
from .feedback import AnswerRules
from .feedback_store import FeedbackStore
from .instances import FeatureSchema
from .metrics import EmfMetrics
from .prediction_id import PredictionIdSigner
from .rate_limit import RateLimiter
from .readiness import ReadinessProbe
from .settings import Settings

# DescribeEndpoint feeds a health check: one attempt of at most 3 s, inside the ALB's probe timeout (5 s by default);
# the next probe is the retry.
CONTROL_PLANE_CONFIG = Config(connect_timeout=1, read_timeout=2, retries={"max_attempts": 1, "mode": "standard"})
# DynamoDB answers in milliseconds; a caller waits for key lookups and feedback writes, so fail fast and retry once.
DYNAMODB_CONFIG = Config(
    connect_timeout=1, read_timeout=2, retries={"max_attempts": 2, "mode": "standard"}, max_pool_connections=50
)
# Histogram writes and baseline reads run in the background: patient, but never longer than a flush period.
BACKGROUND_CONFIG = Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 3, "mode": "standard"})


@dataclass(frozen=True)
class Services:
    settings: Settings
    schema: FeatureSchema
    answers: AnswerRules
    endpoint: EndpointClient
    ids: PredictionIdSigner
    metrics: EmfMetrics
    readiness: ReadinessProbe
    access: ApiKeyVerifier | OpenAccess
    limiter: RateLimiter
    feedback: FeedbackStore | None
    histograms: HistogramCounts | None


def write_line(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def _flush_periodically(metrics: EmfMetrics, interval: float) -> None:
    """Requests flush on their way through; this covers the quiet moments after the last one."""
    while True:
        await asyncio.sleep(interval)
        metrics.flush_if_due()


async def _every(interval: float, work: Callable[[], object]) -> None:
    """`work` (blocking AWS calls) in a thread, now and then every `interval`, off the requests' event loop."""
    while True:
        await asyncio.to_thread(work)
        await asyncio.sleep(interval)


def _drift_histograms(
    session: boto3.session.Session, control_plane: object, settings: Settings
) -> tuple[HistogramCounts, HistogramWriter, BaselineWatcher] | None:
    if not settings.drift_bucket:
        return None
    s3 = session.client("s3", config=BACKGROUND_CONFIG)
    counts = HistogramCounts(settings.feature_count)
    writer = HistogramWriter(s3, settings.drift_bucket, settings.endpoint_name, counts, writer_id())
    watcher = BaselineWatcher(control_plane, s3, settings.endpoint_name, counts, own_bucket=settings.baseline_bucket)
    return counts, writer, watcher


@asynccontextmanager
async def open_services(settings: Settings, secret: bytes) -> AsyncIterator[Services]:
    session = boto3.session.Session(region_name=settings.region)
    control_plane = session.client("sagemaker", config=CONTROL_PLANE_CONFIG)
    metrics = EmfMetrics(settings.metrics_namespace, settings.endpoint_name, write_line, settings.metrics_flush_seconds)
    dynamodb = session.client("dynamodb", config=DYNAMODB_CONFIG)
    access: ApiKeyVerifier | OpenAccess = (
        OpenAccess()
        if settings.allow_unauthenticated
        else ApiKeyVerifier(
            dynamodb_fetch(dynamodb, settings.api_keys_table),
            settings.api_key_cache_seconds,
            RateLimiter(settings.unknown_key_lookups_per_second, settings.unknown_key_lookup_burst),
        )
    )
    feedback = (
        FeedbackStore(dynamodb, settings.feedback_table, settings.retry_after_seconds)
        if settings.feedback_table
        else None
    )
    drift = _drift_histograms(session, control_plane, settings)
    connector = aiohttp.TCPConnector(limit=settings.connection_pool_size, ttl_dns_cache=60)
    async with aiohttp.ClientSession(connector=connector) as http:
        services = Services(
            settings=settings,
            schema=FeatureSchema(settings.feature_count, settings.max_instances),
            answers=AnswerRules(settings.answer_kind, settings.score_threshold, settings.answer_tolerance),
            endpoint=EndpointClient(
                http,
                RuntimeSigner(session, settings.region),
                ModelWire(settings.model_content_type, settings.answer_kind),
                settings.endpoint_name,
                aiohttp.ClientTimeout(
                    total=settings.endpoint_timeout_seconds, sock_connect=settings.endpoint_connect_timeout_seconds
                ),
                RetryPolicy(
                    settings.endpoint_max_attempts, settings.retry_backoff_seconds, settings.retry_after_seconds
                ),
                on_error=metrics.record_error,
            ),
            ids=PredictionIdSigner(secret, settings.feedback_max_age_seconds),
            metrics=metrics,
            readiness=ReadinessProbe(
                lambda: control_plane.describe_endpoint(EndpointName=settings.endpoint_name),
                settings.ready_cache_seconds,
            ),
            access=access,
            limiter=RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst),
            feedback=feedback,
            histograms=drift[0] if drift else None,
        )
        background = [asyncio.create_task(_flush_periodically(metrics, settings.metrics_flush_seconds))]
        if drift is not None:
            background.append(asyncio.create_task(_every(settings.drift_refresh_seconds, drift[2].refresh)))
            background.append(asyncio.create_task(_every(settings.drift_flush_seconds, drift[1].flush)))
        # botocore's service models leave over 100,000 long-lived objects; left to the cyclic collector, each full
        # collection walks them all and stalls every request in flight (about 60 ms on the benchmark machine).
        gc.collect()
        gc.freeze()
        try:
            yield services
        finally:
            for task in background:
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
            metrics.flush()
            if drift is not None:
                await asyncio.to_thread(drift[1].flush)
