"""Requests through the gateway (`python -m gateway`) become drift histograms that the hourly drift job accepts.

The gateway serves the environment's endpoint, package group and buckets, as its task role allows it; the endpoint is
removed afterwards (`sm`: the other gateway tests expect none), and the drift bucket is emptied before.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from safedeploy.drift.baseline import compute_baseline
from safedeploy.drift.check import DriftPolicy
from safedeploy.drift.job import run_drift_job
from safedeploy.s3_layout import drift_record_prefix, histograms_root
from serving.stub_endpoint import StubBehaviour, running_stub
from testbed.aws import MotoServer
from testbed.gateway_harness import (
    ENDPOINT,
    NAMING,
    SECRET_VARIABLE,
    GatewayAccess,
    GatewayEnv,
    GatewayPolicies,
    running_gateway,
    wait_until,
)
from tests.unit.drift.packages import register_with_baseline, serve_package, store_baseline

pytestmark = pytest.mark.integration

FEATURES = tuple(f"f{index}" for index in range(8))


def _rows(rng: np.random.Generator, n: int) -> np.ndarray:
    """f0 in [0, 1] (the stub's score is f0 clipped), f1..f7 flags."""
    return np.column_stack([rng.random(n), rng.random((n, 7)) < 0.4]).astype(float)


def _serve_with_baseline(moto: MotoServer, policies: GatewayPolicies) -> str:
    """The endpoint serving a new package of the environment's group, whose baseline a new run uploaded; nothing in
    the drift bucket and no drift record yet (the test may run again on the same moto within the hour whose record
    an earlier run wrote once: pytest --count)."""
    sm, s3, bucket, run = moto.client("sagemaker"), moto.client("s3"), policies.artifacts_bucket, uuid.uuid4().hex[:8]
    for item in s3.list_objects_v2(Bucket=policies.drift_bucket).get("Contents", []):  # histograms, drift state
        s3.delete_object(Bucket=policies.drift_bucket, Key=item["Key"])
    for item in s3.list_objects_v2(Bucket=bucket, Prefix=drift_record_prefix(ENDPOINT)).get("Contents", []):
        s3.delete_object(Bucket=bucket, Key=item["Key"])
    training = _rows(np.random.default_rng(1), 5000)
    baseline = compute_baseline(training, FEATURES, training[:, 0]).to_json()
    source = store_baseline(s3, baseline, bucket=bucket, run=f"{run}/1")
    group = NAMING.model_package_group
    package = register_with_baseline(sm, source, "live", group=group, bucket=bucket, run=f"{run}/1")
    serve_package(sm, ENDPOINT, package, name=f"{ENDPOINT}-{run}")
    return package


def hour_of(key: str) -> datetime:
    return datetime.strptime(key.split("/")[3], "%Y%m%dT%H").replace(tzinfo=UTC)


def _histograms(moto: MotoServer, drift_bucket: str) -> list[str]:
    listed = moto.client("s3").list_objects_v2(Bucket=drift_bucket, Prefix=histograms_root(ENDPOINT))
    return [item["Key"] for item in listed.get("Contents", [])]


def _all_counted(moto: MotoServer, drift_bucket: str, rows: int) -> list[str] | None:
    """The files once they count every row: a flush (every 0.2 s) can land between two requests' rows, so the first
    file seen may hold only the first of them (180 of 200 rows, 2 runs in 30)."""
    s3, keys = moto.client("s3"), _histograms(moto, drift_bucket)
    documents = [json.loads(s3.get_object(Bucket=drift_bucket, Key=key)["Body"].read()) for key in keys]
    return keys if sum(sum(document["counts"]["f0"]) for document in documents) >= rows else None


def test_requests_through_the_gateway_become_histograms_the_drift_job_accepts(
    moto: MotoServer,
    sm: Any,
    access: GatewayAccess,
    policies: GatewayPolicies,
    gateway_env: GatewayEnv,
    injected_secret: str,
    tmp_path: Path,
) -> None:
    bucket, drift_bucket = policies.artifacts_bucket, policies.drift_bucket
    _serve_with_baseline(moto, policies)
    rows = _rows(np.random.default_rng(2), 200)
    with running_stub(StubBehaviour(variants=("AllTraffic",))) as stub_url:
        env = gateway_env(
            stub_url,
            DRIFT_BUCKET=drift_bucket,
            ARTIFACTS_BUCKET=bucket,
            DRIFT_FLUSH_SECONDS="0.2",
            DRIFT_REFRESH_SECONDS="0.2",
            **{SECRET_VARIABLE: injected_secret},
        )
        with running_gateway(env, tmp_path / "stdout.log", access.api_key) as gateway:
            wait_until(lambda: "drift baseline in use" in gateway.log.read_text(), "the gateway to learn the baseline")
            with gateway.client() as client:
                for start in range(0, len(rows), 10):
                    response = client.post("/predict", json={"instances": rows[start : start + 10].tolist()})
                    assert response.status_code == 200, response.text
            keys: Any = wait_until(lambda: _all_counted(moto, drift_bucket, len(rows)), "every row in the histograms")

    hour = hour_of(keys[0])
    s3, cloudwatch = moto.client("s3"), moto.client("cloudwatch")
    outcome = run_drift_job(
        sm,
        s3,
        cloudwatch,
        bucket=bucket,
        work_bucket=drift_bucket,
        endpoint_name=ENDPOINT,
        now=hour + timedelta(hours=1),
        policy=DriftPolicy(),
    )

    assert outcome.status == "checked" and outcome.skipped_histograms == 0
    assert outcome.drifted == ()
    record = json.loads(s3.get_object(Bucket=bucket, Key=outcome.record_uri.split(f"{bucket}/", 1)[1])["Body"].read())
    written = [json.loads(s3.get_object(Bucket=drift_bucket, Key=key)["Body"].read()) for key in keys]
    # nothing of the drift check's working data in the artifacts bucket
    assert not s3.list_objects_v2(Bucket=bucket, Prefix="drift/").get("Contents")
    assert sum(sum(document["counts"]["f0"]) for document in written) == len(rows)  # all of them, once
    in_hour = sum(
        sum(document["counts"]["f0"]) for key, document in zip(keys, written, strict=True) if hour_of(key) == hour
    )
    assert {column["name"]: column["rows"] for column in record["columns"]} == dict.fromkeys(
        (*FEATURES, "prediction_score"), in_hour
    )
