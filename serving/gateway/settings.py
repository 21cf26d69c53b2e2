"""The gateway's configuration, read once from environment variables that the serving stack sets.

Every value is checked at start-up so that a wrong task definition stops the container with one line naming the
variable, instead of a worker that fails on the first request (ECS's circuit breaker then rolls the service back).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from safedeploy.canary.metric_names import GATEWAY_NAMESPACE
from safedeploy.errors import ConfigError
from safedeploy.model_wire import ANSWER_KINDS, CONTENT_TYPES, CSV, PROBABILITY, VALUE

# SageMaker's endpoint-name rule: it also makes the name safe to put in a URL path unescaped.
ENDPOINT_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
# InvokeEndpoint refuses payloads above 6 MB; a larger body limit could never succeed.
SAGEMAKER_PAYLOAD_LIMIT = 6 * 1024 * 1024
TRUE_WORDS = frozenset({"1", "true", "yes"})
FALSE_WORDS = frozenset({"", "0", "false", "no"})
# S3's bucket-name rule (general purpose buckets).
BUCKET_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# DynamoDB's table-name rule.
TABLE_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9_.-]{3,255}$")

Number = TypeVar("Number", int, float)


@dataclass(frozen=True)
class Settings:
    endpoint_name: str
    region: str
    feature_count: int  # the model's request width: `model.contract` in cdk.json, set by the serving stack
    metrics_namespace: str = GATEWAY_NAMESPACE
    max_body_bytes: int = 1024 * 1024
    max_instances: int = 100
    # The model's wire format and answer (`model.contract` in cdk.json, safedeploy/model_wire.py).
    model_content_type: str = CSV
    answer_kind: str = PROBABILITY
    score_threshold: float = 0.5  # a probability's label
    answer_tolerance: float = 0.0  # a value's feedback within this distance counts as correct
    endpoint_timeout_seconds: float = 3.0
    endpoint_connect_timeout_seconds: float = 1.0
    endpoint_max_attempts: int = 2
    retry_backoff_seconds: float = 0.05
    retry_after_seconds: int = 5
    ready_cache_seconds: float = 5.0
    feedback_max_age_seconds: int = 7 * 24 * 3600
    metrics_flush_seconds: float = 1.0
    connection_pool_size: int = 100
    log_level: str = "INFO"
    host: str = "0.0.0.0"
    port: int = 8080
    workers: int = 1
    # Above the ALB's 60 s idle timeout: the balancer, not the task, must close idle connections, or it may send a
    # request on a connection the task is closing and answer the caller 502.
    keep_alive_seconds: int = 75
    # A connection must deliver a request's complete headers within this time (slow-header attacks hold workers).
    header_read_timeout_seconds: float = 10.0
    # And its body within this time of its headers (slow bodies hold connections the same way).
    body_read_timeout_seconds: float = 30.0
    # h11's default limit on a request's line and headers, and Apache's and gunicorn's on its header fields.
    max_header_bytes: int = 16 * 1024
    max_header_count: int = 100
    api_keys_table: str = ""
    feedback_table: str = ""
    # Only for a laptop or a test: no API keys, and then no feedback at all.
    allow_unauthenticated: bool = False
    api_key_cache_seconds: float = 60.0
    # DynamoDB lookups a second (and burst) of key ids a worker holds no record of: random ids cost no more.
    unknown_key_lookups_per_second: float = 10.0
    unknown_key_lookup_burst: int = 20
    rate_limit_per_second: float = 50.0
    rate_limit_burst: int = 100
    # The drift bucket the histograms go to (empty writes none), and the artifacts bucket whose baselines (a
    # promoted package's verified copy included) they are binned against.
    drift_bucket: str = ""
    baseline_bucket: str = ""
    drift_flush_seconds: float = 60.0
    drift_refresh_seconds: float = 60.0


def _number(
    env: Mapping[str, str], name: str, parse: Callable[[str], Number], low: Number, high: Number, why: str = ""
) -> Number:
    """The variable as a number within [low, high]; its default when unset, unless `why` says why it is required."""
    raw = env.get(name, "").strip()
    if not raw:
        if why:
            raise ConfigError(f"{name} is required: {why}")
        return getattr(Settings, name.lower())
    try:
        value = parse(raw)
    except ValueError:
        value = None
    if value is None or (isinstance(value, float) and not math.isfinite(value)) or not low <= value <= high:
        kind = "an integer" if parse is int else "a number"
        raise ConfigError(f"{name} must be {kind} between {low} and {high}, got {raw!r}")
    return value


def flag(env: Mapping[str, str], name: str) -> bool:
    """A boolean variable; anything but a clear yes/no is refused rather than guessed."""
    raw = env.get(name, "").strip().lower()
    if raw in TRUE_WORDS:
        return True
    if raw in FALSE_WORDS:
        return False
    raise ConfigError(f"{name} must be one of {sorted(TRUE_WORDS | FALSE_WORDS - {''})}, got {env[name]!r}")


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    """One of `choices`; its default when unset."""
    value = env.get(name, "").strip() or getattr(Settings, name.lower())
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _endpoint_name(env: Mapping[str, str]) -> str:
    name = env.get("ENDPOINT_NAME", "").strip()
    if not name:
        raise ConfigError("ENDPOINT_NAME is required: the SageMaker endpoint this gateway serves")
    if not ENDPOINT_NAME_PATTERN.match(name):
        raise ConfigError(f"ENDPOINT_NAME {name!r} is not a SageMaker endpoint name (letters, digits, hyphens)")
    return name


def _region(env: Mapping[str, str]) -> str:
    region = (env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "").strip()
    if not region:
        raise ConfigError("AWS_REGION is required (ECS sets it in every task)")
    return region


def _log_level(env: Mapping[str, str]) -> str:
    level = env.get("LOG_LEVEL", Settings.log_level).strip().upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {env['LOG_LEVEL']!r}")
    return level


def _namespace(env: Mapping[str, str]) -> str:
    namespace = env.get("METRICS_NAMESPACE", "").strip() or Settings.metrics_namespace
    if len(namespace) > 255 or namespace.startswith("AWS/"):
        raise ConfigError(f"METRICS_NAMESPACE {namespace!r} must be at most 255 characters and not start with AWS/")
    return namespace


def _table(env: Mapping[str, str], name: str, required: bool) -> str:
    table = env.get(name, "").strip()
    if not table and required:
        raise ConfigError(
            f"{name} is required: the DynamoDB table the serving stack creates (ALLOW_UNAUTHENTICATED=true runs "
            "without API keys and without feedback, outside AWS only)"
        )
    if table and not TABLE_NAME_PATTERN.match(table):
        raise ConfigError(f"{name} {table!r} is not a DynamoDB table name")
    return table


def _bucket(env: Mapping[str, str], name: str) -> str:
    bucket = env.get(name, "").strip()
    if bucket and not BUCKET_NAME_PATTERN.match(bucket):
        raise ConfigError(f"{name} {bucket!r} is not an S3 bucket name")
    return bucket


def _drift_buckets(env: Mapping[str, str]) -> tuple[str, str]:
    """DRIFT_BUCKET (histograms) needs ARTIFACTS_BUCKET (baselines): binning against another bucket's copy would
    read what this environment never verified."""
    histograms, baselines = _bucket(env, "DRIFT_BUCKET"), _bucket(env, "ARTIFACTS_BUCKET")
    if histograms and not baselines:
        raise ConfigError("DRIFT_BUCKET is set but ARTIFACTS_BUCKET (where the drift baselines are) is not")
    return histograms, baselines


def load_settings(env: Mapping[str, str]) -> Settings:
    open_access = flag(env, "ALLOW_UNAUTHENTICATED")
    drift_buckets = _drift_buckets(env)
    answer_kind = _choice(env, "ANSWER_KIND", ANSWER_KINDS)
    return Settings(
        endpoint_name=_endpoint_name(env),
        region=_region(env),
        metrics_namespace=_namespace(env),
        feature_count=_number(
            env,
            "FEATURE_COUNT",
            int,
            1,
            10_000,
            why="the model's request width (the serving stack sets it from model.contract.features in cdk.json)",
        ),
        max_body_bytes=_number(env, "MAX_BODY_BYTES", int, 1024, SAGEMAKER_PAYLOAD_LIMIT),
        max_instances=_number(env, "MAX_INSTANCES", int, 1, 10_000),
        model_content_type=_choice(env, "MODEL_CONTENT_TYPE", CONTENT_TYPES),
        answer_kind=answer_kind,
        score_threshold=_number(env, "SCORE_THRESHOLD", float, 0.0, 1.0),
        answer_tolerance=_number(
            env,
            "ANSWER_TOLERANCE",
            float,
            0.0,
            1e12,
            why="a value answer's feedback is judged by it (model.contract.answer.tolerance in cdk.json)"
            if answer_kind == VALUE
            else "",
        ),
        endpoint_timeout_seconds=_number(env, "ENDPOINT_TIMEOUT_SECONDS", float, 0.01, 60.0),
        endpoint_connect_timeout_seconds=_number(env, "ENDPOINT_CONNECT_TIMEOUT_SECONDS", float, 0.01, 10.0),
        endpoint_max_attempts=_number(env, "ENDPOINT_MAX_ATTEMPTS", int, 1, 5),
        retry_backoff_seconds=_number(env, "RETRY_BACKOFF_SECONDS", float, 0.0, 5.0),
        retry_after_seconds=_number(env, "RETRY_AFTER_SECONDS", int, 1, 3600),
        ready_cache_seconds=_number(env, "READY_CACHE_SECONDS", float, 0.0, 300.0),
        feedback_max_age_seconds=_number(env, "FEEDBACK_MAX_AGE_SECONDS", int, 60, 366 * 24 * 3600),
        metrics_flush_seconds=_number(env, "METRICS_FLUSH_SECONDS", float, 0.01, 60.0),
        connection_pool_size=_number(env, "CONNECTION_POOL_SIZE", int, 1, 1000),
        log_level=_log_level(env),
        host=env.get("HOST", "").strip() or Settings.host,
        port=_number(env, "PORT", int, 1024, 65535),
        workers=_number(env, "WORKERS", int, 1, 64),
        keep_alive_seconds=_number(env, "KEEP_ALIVE_SECONDS", int, 1, 4000),
        header_read_timeout_seconds=_number(env, "HEADER_READ_TIMEOUT_SECONDS", float, 0.1, 300.0),
        body_read_timeout_seconds=_number(env, "BODY_READ_TIMEOUT_SECONDS", float, 0.1, 600.0),
        max_header_bytes=_number(env, "MAX_HEADER_BYTES", int, 1024, 1024 * 1024),
        max_header_count=_number(env, "MAX_HEADER_COUNT", int, 10, 10_000),
        api_keys_table=_table(env, "API_KEYS_TABLE", required=not open_access),
        feedback_table=_table(env, "FEEDBACK_TABLE", required=not open_access),
        allow_unauthenticated=open_access,
        api_key_cache_seconds=_number(env, "API_KEY_CACHE_SECONDS", float, 0.0, 3600.0),
        unknown_key_lookups_per_second=_number(env, "UNKNOWN_KEY_LOOKUPS_PER_SECOND", float, 0.1, 100_000.0),
        unknown_key_lookup_burst=_number(env, "UNKNOWN_KEY_LOOKUP_BURST", int, 1, 1_000_000),
        rate_limit_per_second=_number(env, "RATE_LIMIT_PER_SECOND", float, 0.1, 100_000.0),
        rate_limit_burst=_number(env, "RATE_LIMIT_BURST", int, 1, 1_000_000),
        drift_bucket=drift_buckets[0],
        baseline_bucket=drift_buckets[1],
        drift_flush_seconds=_number(env, "DRIFT_FLUSH_SECONDS", float, 0.05, 3600.0),
        drift_refresh_seconds=_number(env, "DRIFT_REFRESH_SECONDS", float, 0.05, 3600.0),
    )
