"""The gateway's drift histograms: binned as the drift job bins, written where and as the job reads them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from safedeploy.drift import store
from safedeploy.drift.baseline import Baseline, compute_baseline, sha256_digest
from serving.gateway.drift_histograms import (
    BaselineWatcher,
    BinnedBaseline,
    HistogramCounts,
    HistogramWriter,
)
from testbed.aws import REGION
from testbed.moto_sagemaker import endpoint_updates
from tests.unit.drift.packages import (
    BUCKET,
    DRIFT_BUCKET,
    drift_account,
    register_with_baseline,
    serve_package,
    store_baseline,
)

ENDPOINT = "demo-dev-endpoint"
HOUR = datetime(2026, 12, 1, 9, tzinfo=UTC)
ROLE = "arn:aws:iam::123456789012:role/demo-dev-sagemaker"


def _baseline() -> Baseline:
    rng = np.random.default_rng(3)
    table = np.column_stack([rng.normal(50, 10, 3000), rng.integers(0, 4, 3000), rng.random(3000) < 0.3])
    return compute_baseline(table, ("age", "level", "flag"), rng.random(3000))


def _rows(rng: np.random.Generator, n: int) -> np.ndarray:
    # Values on the edges, unseen categories (7) and fractional "categories" included.
    return np.column_stack([np.round(rng.normal(50, 12, n)), rng.choice([0, 1, 2, 3, 7, 2.5], n), rng.random(n) < 0.5])


def test_binning_agrees_with_the_drift_library() -> None:
    baseline = _baseline()
    body = baseline.to_json()
    counts = HistogramCounts(3, clock=lambda: HOUR.timestamp())
    counts.use(BinnedBaseline.parse(body, sha256_digest(body)))
    rng = np.random.default_rng(11)
    rows, scores = _rows(rng, 500), rng.random(500)

    counts.add("AllTraffic", rows.tolist(), scores.tolist())

    (entry,) = counts.hours.values()
    expected = {ref.name: ref.counts(rows[:, i]).tolist() for i, ref in enumerate(baseline.features)}
    expected["prediction_score"] = baseline.score.counts(scores).tolist()
    assert entry.counts == expected


def test_rows_of_candidates_or_without_a_baseline_are_not_counted() -> None:
    body = _baseline().to_json()
    counts = HistogramCounts(3)
    counts.add("AllTraffic", [[50.0, 1.0, 0.0]], [0.5])
    assert counts.hours == {}
    counts.use(BinnedBaseline.parse(body, sha256_digest(body)))
    counts.add("v7", [[50.0, 1.0, 0.0]], [0.5])
    assert counts.hours == {}
    counts = HistogramCounts(8)
    counts.use(BinnedBaseline.parse(body, sha256_digest(body)))  # 3 features for an 8-feature schema: refused
    assert counts.baseline is None


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    with drift_account(monkeypatch) as (sm, s3):
        yield {"sm": sm, "s3": s3}


def _serve(aws: dict[str, Any], baseline: Baseline, stored: bytes | None = None) -> str:
    """An endpoint serving a package with `baseline`, whose stored bytes are `stored` (default: the baseline)."""
    source = store_baseline(aws["s3"], baseline.to_json())
    if stored is not None:
        aws["s3"].put_object(Bucket=BUCKET, Key=source["S3Uri"].split(f"{BUCKET}/", 1)[1], Body=stored)
    package = register_with_baseline(aws["sm"], source, "live")
    serve_package(aws["sm"], ENDPOINT, package)
    return package


def test_histograms_written_by_the_gateway_are_what_the_drift_job_sums(aws: dict[str, Any]) -> None:
    baseline = _baseline()
    package = _serve(aws, baseline)
    counts = HistogramCounts(3, clock=lambda: HOUR.timestamp() + 120)
    BaselineWatcher(aws["sm"], aws["s3"], ENDPOINT, counts).refresh()
    rng = np.random.default_rng(5)
    rows, scores = _rows(rng, 300), rng.random(300)
    writers = [HistogramWriter(aws["s3"], DRIFT_BUCKET, ENDPOINT, counts, writer) for writer in ("task-a", "task-b")]
    counts.add("AllTraffic", rows[:100].tolist(), scores[:100].tolist())
    assert writers[0].flush() == 1
    counts.add("AllTraffic", rows[100:].tolist(), scores[100:].tolist())
    assert writers[0].flush() == 1  # the same key, now with the hour's cumulative counts
    assert writers[0].flush() == 0  # nothing new

    live = store.LiveBaseline(package, baseline, sha256_digest(baseline.to_json()))
    totals, skipped = store.hour_counts(aws["s3"], DRIFT_BUCKET, ENDPOINT, HOUR, live)

    assert skipped == 0
    assert totals["age"].tolist() == baseline.features[0].counts(rows[:, 0]).tolist()
    assert totals["prediction_score"].sum() == 300
    (key,) = [item["Key"] for item in aws["s3"].list_objects_v2(Bucket=DRIFT_BUCKET, Prefix="drift/")["Contents"]]
    assert key.startswith(f"drift/{ENDPOINT}/histograms/20261201T09/task-a-")


def test_a_failed_write_loses_nothing_and_a_past_hour_is_forgotten_once_written(aws: dict[str, Any]) -> None:
    body = _baseline().to_json()
    now = [HOUR.timestamp()]
    counts = HistogramCounts(3, clock=lambda: now[0])
    counts.use(BinnedBaseline.parse(body, sha256_digest(body)))
    counts.add("AllTraffic", [[50.0, 1.0, 0.0]] * 4, [0.5] * 4)
    missing = HistogramWriter(aws["s3"], "no-such-bucket-here", ENDPOINT, counts, "task-a")
    assert missing.flush() == 0
    now[0] += 3600  # the next hour
    writer = HistogramWriter(aws["s3"], DRIFT_BUCKET, ENDPOINT, counts, "task-a")
    assert writer.flush() == 1
    assert counts.hours == {}
    (item,) = aws["s3"].list_objects_v2(Bucket=DRIFT_BUCKET, Prefix="drift/")["Contents"]
    document = json.loads(aws["s3"].get_object(Bucket=DRIFT_BUCKET, Key=item["Key"])["Body"].read())
    assert "/20261201T09/" in item["Key"] and sum(document["counts"]["age"]) == 4


def test_rows_counted_while_a_flush_writes_are_written_by_the_next_flush() -> None:
    """The flush runs in a thread while requests keep adding rows: those that miss the object being written must
    reach the next one, not wait for the hour's next row (or be lost at shutdown)."""
    body = _baseline().to_json()
    counts = HistogramCounts(3, clock=lambda: HOUR.timestamp())
    counts.use(BinnedBaseline.parse(body, sha256_digest(body)))
    counts.add("AllTraffic", [[50.0, 1.0, 0.0]] * 4, [0.5] * 4)
    written: list[dict[str, Any]] = []

    class S3:
        def put_object(self, **request: Any) -> None:
            written.append(json.loads(request["Body"]))
            if len(written) == 1:  # a request is served while the first object is on its way
                counts.add("AllTraffic", [[50.0, 1.0, 0.0]] * 3, [0.5] * 3)

    writer = HistogramWriter(S3(), DRIFT_BUCKET, ENDPOINT, counts, "task-a")
    assert (writer.flush(), writer.flush(), writer.flush()) == (1, 1, 0)
    assert [sum(document["counts"]["age"]) for document in written] == [4, 7]


def test_a_baseline_whose_bytes_differ_from_the_recorded_digest_pauses_histograms(aws: dict[str, Any]) -> None:
    baseline = _baseline()
    _serve(aws, baseline, stored=_baseline().to_json().replace(b'"rows":3000', b'"rows":3001'))
    counts = HistogramCounts(3)
    BaselineWatcher(aws["sm"], aws["s3"], ENDPOINT, counts).refresh()
    assert counts.baseline is None


def test_no_endpoint_means_no_histograms(aws: dict[str, Any]) -> None:
    counts = HistogramCounts(3)
    BaselineWatcher(aws["sm"], aws["s3"], ENDPOINT, counts).refresh()
    assert counts.baseline is None


def test_histograms_pause_while_a_new_endpoint_config_deploys(aws: dict[str, Any]) -> None:
    _serve(aws, _baseline())
    counts = HistogramCounts(3)
    watcher = BaselineWatcher(aws["sm"], aws["s3"], ENDPOINT, counts)
    watcher.refresh()
    assert counts.baseline is not None
    variant = {"VariantName": "AllTraffic", "ModelName": "demo-dev-m1", "InitialInstanceCount": 1}
    aws["sm"].create_endpoint_config(
        EndpointConfigName="demo-dev-c2", ProductionVariants=[{**variant, "InstanceType": "ml.m5.large"}]
    )
    endpoint_updates(REGION).plan(ENDPOINT, "succeed", polls=10**9)
    aws["sm"].update_endpoint(EndpointName=ENDPOINT, EndpointConfigName="demo-dev-c2")

    watcher.refresh()

    assert counts.baseline is None
