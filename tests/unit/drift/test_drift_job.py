from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from safedeploy import s3_layout
from safedeploy.cli import main
from safedeploy.drift import store
from safedeploy.drift.baseline import compute_baseline, sha256_digest
from safedeploy.drift.check import DriftPolicy
from safedeploy.drift.job import run_drift_job
from safedeploy.parameters import Param, parameter_name
from testbed.aws import REGION, SESSION
from tests.unit.drift.packages import DRIFT_BUCKET, drift_account, register_with_baseline, serve_package, store_baseline

ENDPOINT, GROUP, BUCKET = "demo-dev-endpoint", "demo-dev-models", "demo-dev-artifacts"
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
ROLE = "arn:aws:iam::123456789012:role/demo-dev-sagemaker"


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    with drift_account(monkeypatch) as (sm, s3):
        rng = np.random.default_rng(5)
        baseline = compute_baseline(
            np.column_stack([rng.normal(50, 10, 4000), rng.random(4000) < 0.4]), ("age", "flag"), rng.random(4000)
        )
        body = baseline.to_json()
        serve_package(sm, ENDPOINT, register_with_baseline(sm, store_baseline(s3, body), "live"))
        yield {
            "sm": sm,
            "s3": s3,
            "cw": SESSION.client("cloudwatch"),
            "baseline": baseline,
            "digest": sha256_digest(body),
        }


def _write_histograms(world: dict[str, Any], hour: datetime, shift: float, rng: np.random.Generator) -> None:
    baseline = world["baseline"]
    age, flag = baseline.features
    for writer in range(3):
        counts = {
            "age": age.counts(rng.normal(50 + shift, 10, 300)).tolist(),
            "flag": flag.counts(rng.random(300) < 0.4).tolist(),
            "prediction_score": baseline.score.counts(rng.random(300)).tolist(),
        }
        key = f"{s3_layout.histogram_prefix(ENDPOINT, hour)}task-{writer}.json"
        document = {"baseline_digest": world["digest"], "counts": counts}
        world["s3"].put_object(Bucket=DRIFT_BUCKET, Key=key, Body=json.dumps(document))
    stale = {"baseline_digest": "sha256:" + "0" * 64, "counts": {"age": [10**6] * 10}}
    world["s3"].put_object(
        Bucket=DRIFT_BUCKET, Key=f"{s3_layout.histogram_prefix(ENDPOINT, hour)}old.json", Body=json.dumps(stale)
    )


def _run(world: dict[str, Any], now: datetime):
    return run_drift_job(
        world["sm"],
        world["s3"],
        world["cw"],
        bucket=BUCKET,
        work_bucket=DRIFT_BUCKET,
        endpoint_name=ENDPOINT,
        now=now,
        policy=DriftPolicy(),
    )


def _keys(world: dict[str, Any], bucket: str, prefix: str) -> set[str]:
    return {item["Key"] for item in world["s3"].list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])}


def test_the_check_keeps_its_state_in_the_drift_bucket_and_its_records_in_the_artifacts_bucket(
    world: dict[str, Any],
) -> None:
    """State is replaced every hour: in the write-once (Object Lock in prod) bucket each version would be kept."""
    _write_histograms(world, datetime(2026, 12, 1, 9, tzinfo=UTC), 0.0, np.random.default_rng(9))
    assert _run(world, NOW).status == "checked"
    assert s3_layout.drift_state_key(ENDPOINT) in _keys(world, DRIFT_BUCKET, f"drift/{ENDPOINT}/")
    assert not _keys(world, BUCKET, "drift/")
    assert _keys(world, BUCKET, s3_layout.drift_record_prefix(ENDPOINT))


def test_a_stable_hour_is_recorded_stable_and_a_shifted_hour_raises_the_drift_metric(world: dict[str, Any]) -> None:
    rng = np.random.default_rng(9)
    _write_histograms(world, datetime(2026, 12, 1, 9, tzinfo=UTC), 0.0, rng)
    stable = _run(world, NOW)
    assert stable.status == "checked" and stable.drifted == () and stable.skipped_histograms == 1
    record = store.latest_record(world["s3"], BUCKET, ENDPOINT)
    assert record is not None and record["drifted"] == [] and record["look"] == 1
    assert {column["rows"] for column in record["columns"]} == {900}

    _write_histograms(world, datetime(2026, 12, 1, 10, tzinfo=UTC), 5.0, rng)
    drifted = _run(world, datetime(2026, 12, 1, 11, 0, tzinfo=UTC))

    assert drifted.drifted == ("age",) and drifted.record_uri.endswith("-DRIFT.json")
    record = store.latest_record(world["s3"], BUCKET, ENDPOINT)
    assert record["look"] == 2 and record["drifted"] == ["age"]
    values = world["cw"].get_metric_statistics(
        Namespace=store.DRIFT_NAMESPACE,
        MetricName=store.DRIFTED_METRIC,
        Dimensions=[{"Name": "EndpointName", "Value": ENDPOINT}],
        StartTime=datetime(2026, 12, 1, 9, tzinfo=UTC),
        EndTime=datetime(2026, 12, 1, 12, tzinfo=UTC),
        Period=3600,
        Statistics=["Maximum"],
    )["Datapoints"]
    assert max(point["Maximum"] for point in values) == 1.0


def test_an_hour_is_folded_into_the_state_once_however_often_the_check_is_invoked(world: dict[str, Any]) -> None:
    """The check takes its hour from the clock, and anyone with lambda:InvokeFunction can invoke it again: each run
    used to fold the same hour in once more, piling up evidence and using up the period's looks."""
    _write_histograms(world, datetime(2026, 12, 1, 9, tzinfo=UTC), 0.0, np.random.default_rng(9))
    assert _run(world, NOW).status == "checked"
    again = _run(world, NOW + timedelta(minutes=30))
    assert (again.status, again.record_uri) == ("hour already checked", None)
    record = store.latest_record(world["s3"], BUCKET, ENDPOINT)
    assert record is not None and record["look"] == 1


def test_a_baseline_whose_bytes_do_not_match_the_package_digest_is_refused(world: dict[str, Any]) -> None:
    world["s3"].put_object(Bucket=BUCKET, Key="models/abc/1/drift-baseline.json", Body=b'{"tampered": true}')
    with pytest.raises(ValueError, match="has digest sha256:"):
        _run(world, NOW)


def test_no_endpoint_means_nothing_to_check(world: dict[str, Any]) -> None:
    world["sm"].delete_endpoint(EndpointName=ENDPOINT)
    assert _run(world, NOW).status == "no endpoint or baseline"


def test_the_cli_prints_the_latest_check_per_column(world: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    ssm = SESSION.client("ssm")
    for name, value in ((Param.ARTIFACTS_BUCKET, BUCKET), (Param.ENDPOINT_NAME, ENDPOINT)):
        ssm.put_parameter(Name=parameter_name("demo", "dev", name), Value=value, Type="String")
    assert main(["drift", "--project", "demo", "--env", "dev", "--region", REGION]) == 0
    assert "no drift check of demo-dev-endpoint yet" in capsys.readouterr().out

    _write_histograms(world, datetime(2026, 12, 1, 9, tzinfo=UTC), 5.0, np.random.default_rng(3))
    _run(world, NOW)
    assert main(["drift", "--project", "demo", "--env", "dev", "--region", REGION]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert "DRIFT in age" in lines[0] and "look 1 of 720" in lines[0]
    rows = {line.split()[0]: line.split() for line in lines[2:]}
    assert set(rows) == {"age", "flag", "prediction_score"}
    assert rows["age"][-1] == "drift" and rows["age"][3] in ("moderate", "major") and rows["flag"][-1] == "stable"


def _feedback(world: dict[str, Any], hour: datetime, received: int, correct: int) -> None:
    for variant, share in (("AllTraffic", 0.75), ("v2", 0.25)):
        dimensions = [{"Name": "EndpointName", "Value": ENDPOINT}, {"Name": "VariantName", "Value": variant}]
        world["cw"].put_metric_data(
            Namespace=store.GATEWAY_NAMESPACE,
            MetricData=[
                {
                    "MetricName": name,
                    "Dimensions": dimensions,
                    "Timestamp": hour + timedelta(minutes=30),
                    "Value": value,
                }
                for name, value in (("FeedbackReceived", received * share), ("FeedbackCorrect", correct * share))
            ],
        )


def test_accuracy_from_feedback_is_tested_against_the_registered_value(world: dict[str, Any]) -> None:
    hour = datetime(2026, 12, 1, 9, tzinfo=UTC)
    _feedback(world, hour, 400, 340)
    good = _run(world, NOW).quality
    assert good is not None and good.received == 400 and good.accuracy == pytest.approx(0.85) and not good.degraded

    _feedback(world, hour + timedelta(hours=1), 2000, 1300)
    bad = _run(world, NOW + timedelta(hours=1)).quality
    assert bad is not None and bad.received == 2400 and bad.degraded
