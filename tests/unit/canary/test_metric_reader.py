"""The per-minute p50 of ModelLatency is read into the median series the verdict judges.

moto computes no percentiles from what is put (it answers `Stat: "p50"` with nothing), so CloudWatch's answer is
stubbed in the documented GetMetricData response shape; the request itself still passes the suite's check against
botocore's model, and the Stubber checks the response against it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import numpy as np
import pytest
from botocore.stub import Stubber

from safedeploy.canary.fleets import Comparison, Fleet
from safedeploy.canary.metric_reader import fleet_readings, latency_metric, minute_grid, read_fleets
from safedeploy.stats import MedianSeries
from safedeploy.strategies.canary import CANARY

START = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
MINUTES = 10
BASELINE = Fleet("live", (("EndpointName", "e"), ("VariantName", "AllTraffic"), ("EndpointConfigName", "old")))
CANDIDATE = Fleet("new", (("EndpointName", "e"), ("VariantName", "AllTraffic"), ("EndpointConfigName", "new")))


def comparison() -> Comparison:
    return Comparison("e", "new", CANARY, START, BASELINE, CANDIDATE, 0.5, 0.5)


def result(query_id: str, values: list[float | None]) -> dict[str, Any]:
    """One MetricDataResult: CloudWatch leaves out the minutes it has no value for."""
    kept = [(START + timedelta(minutes=i), v) for i, v in enumerate(values) if v is not None]
    return {
        "Id": query_id,
        "Label": query_id,
        "Timestamps": [t for t, _ in kept],
        "Values": [v for _, v in kept],
        "StatusCode": "Complete",
    }


def stubbed_read(p50_micros: dict[str, list[float | None]]) -> tuple[Any, list[dict[str, Any]]]:
    cloudwatch = boto3.client(
        "cloudwatch", region_name="ap-northeast-2", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    sent: list[dict[str, Any]] = []
    cloudwatch.meta.events.register(
        "provide-client-params.cloudwatch.GetMetricData", lambda params, **_: sent.append(params)
    )
    counts = [100.0] * MINUTES
    results = []
    for offset, role in ((0, "baseline"), (5, "candidate")):
        results += [
            result(f"q{offset}", counts),  # Invocations
            result(f"q{offset + 1}", [1.0] * MINUTES),  # Invocation5XXErrors
            result(f"q{offset + 2}", [130_000.0] * MINUTES),  # ModelLatency Average, microseconds
            result(f"q{offset + 3}", counts),  # ModelLatency SampleCount
            result(f"q{offset + 4}", p50_micros[role]),  # ModelLatency p50
        ]
    stubber = Stubber(cloudwatch)
    stubber.add_response("get_metric_data", {"MetricDataResults": results, "Messages": []})
    with stubber:
        grid = minute_grid(START, START + timedelta(minutes=MINUTES, seconds=5))
        observations = read_fleets(cloudwatch, comparison(), grid).observations
    stubber.assert_no_pending_responses()
    return observations, sent


def test_the_p50_of_each_fleet_and_minute_becomes_the_median_series() -> None:
    baseline = [100_000.0 + 1000 * i for i in range(MINUTES)]
    candidate = [120_000.0] * (MINUTES - 1) + [None]  # one minute without a percentile
    observations, sent = stubbed_read({"baseline": baseline, "candidate": candidate})
    (request,) = sent
    p50_queries = [q for q in request["MetricDataQueries"] if q["MetricStat"]["Stat"] == "p50"]
    assert [q["MetricStat"]["Metric"]["MetricName"] for q in p50_queries] == ["ModelLatency", "ModelLatency"]
    assert {q["MetricStat"]["Period"] for q in p50_queries} == {60}
    medians = observations.metrics["latency_p50_ms"]
    assert isinstance(medians.baseline, MedianSeries) and isinstance(medians.candidate, MedianSeries)
    assert medians.baseline.median == pytest.approx(np.array(baseline) / 1000.0)
    assert medians.baseline.sample_count == pytest.approx([100.0] * MINUTES)
    # a minute with requests but no p50 is a minute without data for the median, not a zero latency
    assert medians.candidate.median[:-1] == pytest.approx([120.0] * (MINUTES - 1))
    assert medians.candidate.sample_count == pytest.approx([100.0] * (MINUTES - 1) + [0.0])
    assert observations.metrics["latency_ms"].candidate.mean == pytest.approx([130.0] * MINUTES)


def test_without_percentiles_in_most_minutes_the_mean_is_judged() -> None:
    """Percentiles need raw values: where CloudWatch returns p50 for too few minutes the median is not used."""
    sparse: list[float | None] = [100_000.0] * 3 + [None] * (MINUTES - 3)
    observations, _ = stubbed_read({"baseline": sparse, "candidate": sparse})
    assert "latency_p50_ms" not in observations.metrics
    assert "latency_ms" in observations.metrics


def minutes(
    count: int, p50_missing: tuple[int, ...] = (), candidate_missing: tuple[int, ...] = ()
) -> dict[tuple[str, str], np.ndarray]:
    """CloudWatch's per-minute answer for two fleets as the reader holds it (NaN: no datapoint)."""
    values = {}
    for role in ("baseline", "candidate"):
        lost = np.isin(np.arange(count), candidate_missing) if role == "candidate" else np.zeros(count, dtype=bool)
        requests = np.where(lost, np.nan, 100.0)
        values |= {
            (role, "invocations"): requests,
            (role, "errors"): np.where(lost, np.nan, 1.0),
            (role, "latency_count"): requests,
            (role, "latency_mean"): np.where(lost, np.nan, 130_000.0),
            (role, "latency_p50"): np.where(lost | np.isin(np.arange(count), p50_missing), np.nan, 100_000.0),
        }
    return values


def test_the_latency_metric_is_chosen_once_from_the_first_minutes() -> None:
    """The median or the mean is fixed by the first ten minutes both fleets served: p50 left out later never flips
    it, and p50 left out in two of the first ten chooses the mean for the rest of the deployment."""
    later_gaps = tuple(range(12, 40, 2))  # half of the later minutes without p50
    for count in range(1, 41):
        assert latency_metric(minutes(count, later_gaps), np.ones(count, dtype=bool)) == "latency_p50_ms"
    early_gaps = (3, 7)
    chosen = {latency_metric(minutes(count, early_gaps), np.ones(count, dtype=bool)) for count in range(10, 41)}
    assert chosen == {"latency_ms"}
    assert "latency_p50_ms" not in fleet_readings(minutes(30, early_gaps), False).observations.metrics


def test_a_minute_only_one_fleet_has_is_no_minute_for_either() -> None:
    """A late or lost candidate minute is missing, not zero requests: the verdict sees neither fleet's minute, and
    the sample-ratio check receives it as missing (NaN)."""
    readings = fleet_readings(minutes(6, candidate_missing=(2, 5)), False)
    errors = readings.observations.metrics["error_rate"]
    assert errors.baseline.trials == pytest.approx([100, 100, 0, 100, 100, 0])
    assert errors.candidate.trials == pytest.approx([100, 100, 0, 100, 100, 0])
    medians = readings.observations.metrics["latency_p50_ms"]
    assert medians.baseline.sample_count == pytest.approx([100, 100, 0, 100, 100, 0])
    assert np.isnan(readings.candidate_requests[[2, 5]]).all() and readings.baseline_requests[2] == 100
