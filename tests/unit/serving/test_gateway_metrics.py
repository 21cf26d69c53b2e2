"""EMF documents as CloudWatch's specification requires them, aggregated per variant and flushed on time."""

from __future__ import annotations

import json
from typing import Any

import pytest

from serving.gateway.metrics import MAX_VALUES, UNKNOWN_VARIANT, EmfMetrics

UNITS = {"Count", "Milliseconds"}


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def lines() -> list[str]:
    return []


@pytest.fixture
def metrics(clock: Clock, lines: list[str]) -> EmfMetrics:
    return EmfMetrics("SafeDeploy/Gateway", "my-endpoint", lines.append, flush_seconds=1.0, clock=clock)


def _check_emf(document: dict[str, Any]) -> None:
    """The rules of CloudWatch's EMF specification that the gateway's documents must satisfy."""
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert isinstance(document["_aws"]["Timestamp"], int)
    assert 0 < len(directive["Namespace"]) <= 255
    for dimension_set in directive["Dimensions"]:
        assert len(dimension_set) <= 9
        assert all(isinstance(document[name], str) for name in dimension_set)
    assert len(directive["Metrics"]) <= 100
    for metric in directive["Metrics"]:
        assert metric["Unit"] in UNITS
        value = document[metric["Name"]]
        assert isinstance(value, int | float) or (
            isinstance(value, list) and 0 < len(value) <= MAX_VALUES and all(isinstance(v, float) for v in value)
        )


def _documents(lines: list[str]) -> dict[str, dict[str, Any]]:
    documents = [json.loads(line) for line in lines]
    for document in documents:
        _check_emf(document)
    return {document["VariantName"]: document for document in documents}


def test_nothing_is_written_before_the_flush_period(metrics: EmfMetrics, clock: Clock, lines: list[str]) -> None:
    metrics.record_prediction("v1", 5.0, rows=2)
    clock.now += 0.5
    metrics.flush_if_due()
    assert lines == []
    clock.now += 0.5
    metrics.flush_if_due()
    assert len(lines) == 1


def test_one_document_per_variant_with_sums_and_latency_samples(
    metrics: EmfMetrics, clock: Clock, lines: list[str]
) -> None:
    metrics.record_prediction("v1", 5.25, rows=3)
    metrics.record_prediction("v1", 6.5, rows=1)
    metrics.record_prediction("v2", 7.0, rows=1)
    metrics.record_error("v2")
    metrics.record_error(None)
    metrics.record_feedback("v1", correct=True)
    metrics.record_feedback("v1", correct=False)
    clock.now += 1
    metrics.flush_if_due()

    documents = _documents(lines)
    assert set(documents) == {"v1", "v2", UNKNOWN_VARIANT}
    v1 = documents["v1"]
    assert (v1["EndpointName"], v1["PredictLatency"], v1["Predictions"]) == ("my-endpoint", [5.25, 6.5], 4)
    assert (v1["FeedbackReceived"], v1["FeedbackCorrect"], v1["PredictErrors"]) == (2, 1, 0)
    assert (documents["v2"]["PredictErrors"], documents[UNKNOWN_VARIANT]["PredictErrors"]) == (1, 1)
    assert "PredictLatency" not in documents[UNKNOWN_VARIANT]  # an empty sample list is not valid EMF
    assert v1["_aws"]["Timestamp"] == int(clock.now * 1000)
    assert v1["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["EndpointName", "VariantName"]]


def test_a_full_latency_list_is_written_at_once(metrics: EmfMetrics, lines: list[str]) -> None:
    for _ in range(MAX_VALUES + 1):
        metrics.record_prediction("v1", 5.0, rows=1)
    assert len(lines) == 1
    assert len(json.loads(lines[0])["PredictLatency"]) == MAX_VALUES
    metrics.flush()
    assert json.loads(lines[1])["Predictions"] == 1


def test_a_flush_without_activity_writes_nothing(metrics: EmfMetrics, lines: list[str]) -> None:
    metrics.record_feedback("v1", correct=True)
    metrics.flush()
    metrics.flush()
    assert len(lines) == 1
