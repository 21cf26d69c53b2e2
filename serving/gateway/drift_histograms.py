"""Production histograms for the drift check: every scored row binned against the live model's baseline.

The hourly drift job reads the hour's histograms (`safedeploy.s3_layout.histogram_key`, the one module of
`safedeploy` the image carries) = `{"baseline_digest", "counts": {column: [count per bin]}}` from the drift bucket.
This module writes them:

- `BaselineWatcher` (background, every `DRIFT_REFRESH_SECONDS`) learns which package the endpoint serves (its
  `safedeploy:model-package-arn` tag), reads that package's `DriftCheckBaselines.ModelDataQuality.Statistics`,
  fetches the baseline and refuses it unless its sha256 is the recorded `ContentDigest`. Binning pauses while a
  deployment is in progress (`PendingDeploymentSummary`: two fleets may serve one variant name), while the endpoint
  cannot serve, and when no verified baseline exists, so rows of one model are not counted against another's bins.
- `HistogramCounts.add` (the request path) bins the rows of the serving variant (`AllTraffic`; A/B and shadow
  candidates `v<N>` run other models) and their returned scores with `bisect`: no AWS call, a few microseconds.
- `HistogramWriter.flush` (background, every `DRIFT_FLUSH_SECONDS`) writes each hour's cumulative counts per
  baseline digest, replacing the same key, so a lost minute is repaired by the next flush and a failed PutObject
  loses nothing (the counts stay in memory and are retried, up to `MAX_PENDING_HOURS`).

The binning here must agree with `safedeploy.drift.baseline.FeatureReference.counts` (the image carries neither
numpy nor `safedeploy.drift`); a unit test compares the two on random data.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import secrets
import socket
import time
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from safedeploy.guardrails.release_names import PRODUCTION_VARIANT
from safedeploy.guardrails.resource_tags import PACKAGE_ARN
from safedeploy.s3_layout import BASELINE_SCHEMA, HOUR_FORMAT, histogram_key, served_baseline_location

# Statuses in which the endpoint serves one model: `Updating` also covers autoscaling, which a pending deployment
# summary tells apart from a new endpoint config.
BINNING_STATUSES = frozenset({"InService", "Updating", "SystemUpdating"})
# Hours of counts kept while S3 refuses them; older ones are dropped with an error line (memory stays bounded).
MAX_PENDING_HOURS = 24

logger = logging.getLogger("gateway.drift")


@dataclass(frozen=True)
class ColumnBins:
    """One column of a baseline: numeric interior `edges` (bin i holds edges[i-1] <= x < edges[i]) or
    `categories` (the last bin is `other`)."""

    name: str
    edges: tuple[float, ...] = ()
    categories: dict[str, int] | None = None

    @property
    def bins(self) -> int:
        return len(self.categories) + 1 if self.categories is not None else len(self.edges) + 1

    def index(self, value: float) -> int:
        if self.categories is None:
            return bisect_right(self.edges, value)
        return self.categories.get(category_key(value), len(self.categories))


def category_key(value: float) -> str:
    """The baseline's spelling of a category (`safedeploy.drift.baseline.category_key` for a finite number)."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@dataclass(frozen=True)
class BinnedBaseline:
    digest: str
    features: tuple[ColumnBins, ...]
    score: ColumnBins | None

    @classmethod
    def parse(cls, body: bytes, digest: str) -> BinnedBaseline:
        document = json.loads(body)
        if not isinstance(document, dict) or document.get("schema") != BASELINE_SCHEMA:
            raise ValueError(f"not a drift baseline: expected schema {BASELINE_SCHEMA!r}")
        score = document.get("score")
        return cls(digest, tuple(_column(entry) for entry in document["features"]), _column(score) if score else None)


def _column(entry: dict[str, Any]) -> ColumnBins:
    if entry["kind"] == "numeric":
        return ColumnBins(str(entry["name"]), edges=tuple(float(edge) for edge in entry["edges"]))
    return ColumnBins(str(entry["name"]), categories={str(c): i for i, c in enumerate(entry["categories"])})


def sha256_digest(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


@dataclass
class _HourCounts:
    counts: dict[str, list[int]]
    dirty: bool = True


@dataclass
class HistogramCounts:
    """Per (hour, baseline digest), the cumulative count per column and bin since this writer started."""

    feature_count: int
    clock: Callable[[], float] = time.time
    baseline: BinnedBaseline | None = None
    hours: dict[tuple[str, str], _HourCounts] = field(default_factory=dict)

    def use(self, baseline: BinnedBaseline | None) -> None:
        """Bin against `baseline` from now on; None pauses binning. A baseline whose features do not match the
        request schema is refused (the rows could not be binned column by column)."""
        if baseline is not None and len(baseline.features) != self.feature_count:
            logger.error(
                "drift baseline does not match the request schema; histograms paused",
                extra={"fields": {"baseline_features": len(baseline.features), "feature_count": self.feature_count}},
            )
            baseline = None
        self.baseline = baseline

    def add(self, variant: str, rows: Sequence[Sequence[float]], scores: Sequence[float]) -> None:
        baseline = self.baseline
        if baseline is None or variant != PRODUCTION_VARIANT:
            return
        hour = time.strftime(HOUR_FORMAT, time.gmtime(self.clock()))
        entry = self.hours.get((hour, baseline.digest))
        if entry is None:
            columns = (*baseline.features, *((baseline.score,) if baseline.score else ()))
            entry = self.hours[(hour, baseline.digest)] = _HourCounts({c.name: [0] * c.bins for c in columns})
        for position, column in enumerate(baseline.features):
            bins = entry.counts[column.name]
            for row in rows:
                bins[column.index(row[position])] += 1
        if baseline.score is not None:
            bins = entry.counts[baseline.score.name]
            for score in scores:
                if math.isfinite(score):
                    bins[baseline.score.index(score)] += 1
        entry.dirty = True


def writer_id() -> str:
    """This task and worker process, plus a start-up token: a restarted task never replaces its predecessor's
    counts of the same hour."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"


class HistogramWriter:
    def __init__(self, s3: Any, bucket: str, endpoint_name: str, counts: HistogramCounts, writer: str) -> None:
        self._s3, self._bucket, self._endpoint = s3, bucket, endpoint_name
        self._counts, self._writer = counts, writer

    def key(self, hour: str, digest: str) -> str:
        return histogram_key(self._endpoint, hour, self._writer, digest)

    def flush(self) -> int:
        """Write every hour whose counts changed; forget hours written and past. Returns the objects written."""
        current = time.strftime(HOUR_FORMAT, time.gmtime(self._counts.clock()))
        written = 0
        for (hour, digest), entry in sorted(self._counts.hours.items()):
            if entry.dirty:
                # Clean before the snapshot: rows the event loop adds while this thread writes make it dirty again
                # (cleared after the write, they were in no object until the hour's next row).
                entry.dirty = False
                body = json.dumps({"baseline_digest": digest, "counts": entry.counts}, separators=(",", ":"))
                try:
                    self._s3.put_object(
                        Bucket=self._bucket,
                        Key=self.key(hour, digest),
                        Body=body.encode(),
                        ContentType="application/json",
                    )
                except Exception as error:  # S3 or the network: keep the counts, the next flush retries
                    entry.dirty = True
                    fields = {"hour": hour, "error": str(error)}
                    logger.warning("drift histograms not written; retrying", extra={"fields": fields})
                    continue
                written += 1
            if hour < current and not entry.dirty:
                del self._counts.hours[(hour, digest)]
        self._drop_oldest()
        return written

    def _drop_oldest(self) -> None:
        pending = sorted(self._counts.hours)
        for hour, digest in pending[: max(0, len(pending) - MAX_PENDING_HOURS)]:
            del self._counts.hours[(hour, digest)]
            logger.error("drift histograms of an hour dropped after failed writes", extra={"fields": {"hour": hour}})


class BaselineWatcher:
    """Finds the live package's verified baseline; `refresh` makes AWS calls and runs off the event loop."""

    def __init__(
        self, sagemaker: Any, s3: Any, endpoint_name: str, counts: HistogramCounts, own_bucket: str | None = None
    ) -> None:
        self._sm, self._s3, self._endpoint, self._counts = sagemaker, s3, endpoint_name, counts
        self._own_bucket = own_bucket
        self._cache: tuple[str, BinnedBaseline] | None = None  # (package ARN, its baseline)

    def refresh(self) -> None:
        try:
            self._counts.use(self._resolve())
        except Exception as error:  # not fatal to serving: histograms pause until the next refresh
            logger.warning("drift baseline unavailable; histograms paused", extra={"fields": {"error": str(error)}})
            self._counts.use(None)

    def _resolve(self) -> BinnedBaseline | None:
        try:
            endpoint = self._sm.describe_endpoint(EndpointName=self._endpoint)
        except self._sm.exceptions.ClientError as error:
            if "Could not find endpoint" in str(error):
                return None
            raise
        # A new endpoint config in progress may serve two models under one variant name; scaling alone does not.
        if endpoint.get("PendingDeploymentSummary") or endpoint.get("EndpointStatus") not in BINNING_STATUSES:
            return None
        tags = self._sm.list_tags(ResourceArn=endpoint["EndpointArn"]).get("Tags", [])
        package_arn = next((tag["Value"] for tag in tags if tag["Key"] == PACKAGE_ARN), None)
        if package_arn is None:
            return None
        if self._cache is not None and self._cache[0] == package_arn:
            return self._cache[1]
        package = self._sm.describe_model_package(ModelPackageName=package_arn)
        source = package.get("DriftCheckBaselines", {}).get("ModelDataQuality", {}).get("Statistics")
        if not source:
            return None
        bucket, key = served_baseline_location(source["S3Uri"], package_arn, self._own_bucket)
        body = self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        if sha256_digest(body) != source.get("ContentDigest"):
            raise ValueError(f"{source['S3Uri']} does not match the digest {package_arn} records")
        baseline = BinnedBaseline.parse(body, source["ContentDigest"])
        self._cache = (package_arn, baseline)
        logger.info("drift baseline in use", extra={"fields": {"package": package_arn, "digest": baseline.digest}})
        return baseline
