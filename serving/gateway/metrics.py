"""Per-variant metrics in CloudWatch's embedded metric format (EMF): JSON lines on stdout that CloudWatch Logs turns
into metrics, so the gateway needs no CloudWatch permission and adds no API call to a request.

Values are aggregated per variant and written at most every `flush_seconds` (or sooner when a latency list reaches
EMF's 100 values): one line per variant instead of one per request keeps the log volume, and its cost, flat under
load. Counts are written as sums, so read them with the Sum statistic; PredictLatency keeps every sample.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from safedeploy.canary.metric_names import (
    ENDPOINT_DIMENSION,
    FEEDBACK_CORRECT_NAME,
    FEEDBACK_RECEIVED_NAME,
    VARIANT_DIMENSION,
)

# EMF's limit on the values of one metric in one document.
MAX_VALUES = 100
UNKNOWN_VARIANT = "unknown"
COUNTS = ("Predictions", "PredictErrors", FEEDBACK_RECEIVED_NAME, FEEDBACK_CORRECT_NAME)
LATENCY = "PredictLatency"
DIMENSIONS = (ENDPOINT_DIMENSION, VARIANT_DIMENSION)


@dataclass
class _VariantTotals:
    latencies_ms: list[float] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))


class EmfMetrics:
    def __init__(
        self,
        namespace: str,
        endpoint_name: str,
        write: Callable[[str], None],
        flush_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._namespace = namespace
        self._endpoint_name = endpoint_name
        self._write = write
        self._flush_seconds = flush_seconds
        self._clock = clock
        self._totals: dict[str, _VariantTotals] = {}
        self._last_flush = clock()

    def _variant(self, variant: str | None) -> _VariantTotals:
        return self._totals.setdefault(variant or UNKNOWN_VARIANT, _VariantTotals())

    def record_prediction(self, variant: str, latency_ms: float, rows: int) -> None:
        totals = self._variant(variant)
        totals.latencies_ms.append(round(latency_ms, 3))
        totals.counts["Predictions"] += rows
        if len(totals.latencies_ms) >= MAX_VALUES:
            self._flush_variant(variant, totals)
        self.flush_if_due()

    def record_error(self, variant: str | None) -> None:
        self._variant(variant).counts["PredictErrors"] += 1
        self.flush_if_due()

    def record_feedback(self, variant: str, correct: bool) -> None:
        counts = self._variant(variant).counts
        counts[FEEDBACK_RECEIVED_NAME] += 1
        counts[FEEDBACK_CORRECT_NAME] += int(correct)
        self.flush_if_due()

    def flush_if_due(self) -> None:
        if self._clock() - self._last_flush >= self._flush_seconds:
            self.flush()

    def flush(self) -> None:
        self._last_flush = self._clock()
        for variant, totals in list(self._totals.items()):
            self._flush_variant(variant, totals)

    def _flush_variant(self, variant: str, totals: _VariantTotals) -> None:
        del self._totals[variant]
        self._write(self._document(variant, totals))

    def _document(self, variant: str, totals: _VariantTotals) -> str:
        metrics = [{"Name": name, "Unit": "Count"} for name in COUNTS]
        values: dict[str, object] = dict(totals.counts)
        if totals.latencies_ms:
            metrics.append({"Name": LATENCY, "Unit": "Milliseconds"})
            values[LATENCY] = totals.latencies_ms
        directive = {"Namespace": self._namespace, "Dimensions": [list(DIMENSIONS)], "Metrics": metrics}
        aws = {"Timestamp": int(self._clock() * 1000), "CloudWatchMetrics": [directive]}
        return json.dumps({"_aws": aws, ENDPOINT_DIMENSION: self._endpoint_name, VARIANT_DIMENSION: variant, **values})
