"""Requests through the gateway (`python -m gateway`) become drift histograms that the hourly drift job accepts.

The moto server all gateway tests share holds their endpoint state, so this test serves an endpoint of its own
name (moto's state is shared by every server of the process).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from safedeploy.drift.baseline import compute_baseline
from safedeploy.drift.check import DriftPolicy
from safedeploy.drift.job import run_drift_job
from safedeploy.drift.store import histograms_root
from serving.stub_endpoint import StubBehaviour, running_stub
from tests.integration.gateway.gateway_harness import (
    SECRET,
    GatewayAccess,
    gateway_environment,
    running_gateway,
    wait_until,
)
from tests.support.aws import MotoServer
from tests.unit.drift.packages import create_bucket_and_group, register_with_baseline, serve_package, store_baseline

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Names:
    """Per run, so the test also passes when repeated against the same moto (pytest --count)."""

    bucket: str
    group: str
    endpoint: str
    drift_bucket: str

    @classmethod
    def fresh(cls) -> Names:
        suffix = uuid.uuid4().hex[:8]
        return cls(
            f"gateway-it-artifacts-{suffix}",
            f"gateway-it-models-{suffix}",
            f"gateway-it-drift-{suffix}",
            f"gateway-it-drift-work-{suffix}",
        )


ROLE = "arn:aws:iam::123456789012:role/gateway-it-sagemaker"
FEATURES = tuple(f"f{index}" for index in range(8))


def _rows(rng: np.random.Generator, n: int) -> np.ndarray:
    """f0 in [0, 1] (the stub's score is f0 clipped), f1..f7 flags."""
    return np.column_stack([rng.random(n), rng.random((n, 7)) < 0.4]).astype(float)


def _serve_with_baseline(moto: MotoServer, names: Names) -> str:
    sm, s3 = moto.client("sagemaker"), moto.client("s3")
    create_bucket_and_group(sm, s3, names.bucket, names.group)
    s3.create_bucket(Bucket=names.drift_bucket, CreateBucketConfiguration={"LocationConstraint": s3.meta.region_name})
    training = _rows(np.random.default_rng(1), 5000)
    source = store_baseline(s3, compute_baseline(training, FEATURES, training[:, 0]).to_json(), bucket=names.bucket)
    package = register_with_baseline(sm, source, "live", group=names.group, bucket=names.bucket)
    serve_package(sm, names.endpoint, package, name=f"{names.endpoint}-m1")
    return package


def hour_of(key: str) -> datetime:
    return datetime.strptime(key.split("/")[3], "%Y%m%dT%H").replace(tzinfo=UTC)


def _histograms(moto: MotoServer, names: Names) -> list[str]:
    listed = moto.client("s3").list_objects_v2(Bucket=names.drift_bucket, Prefix=histograms_root(names.endpoint))
    return [item["Key"] for item in listed.get("Contents", [])]


def _all_counted(moto: MotoServer, names: Names, rows: int) -> list[str] | None:
    """The files once they count every row: a flush (every 0.2 s) can land between two requests' rows, so the first
    file seen may hold only the first of them (180 of 200 rows, 2 runs in 30)."""
    s3, keys = moto.client("s3"), _histograms(moto, names)
    documents = [json.loads(s3.get_object(Bucket=names.drift_bucket, Key=key)["Body"].read()) for key in keys]
    return keys if sum(sum(document["counts"]["f0"]) for document in documents) >= rows else None


def test_requests_through_the_gateway_become_histograms_the_drift_job_accepts(
    moto: MotoServer, access: GatewayAccess, tmp_path: Path
) -> None:
    names = Names.fresh()
    _serve_with_baseline(moto, names)
    rows = _rows(np.random.default_rng(2), 200)
    with running_stub(StubBehaviour(variants=("AllTraffic",))) as stub_url:
        env = gateway_environment(
            moto,
            stub_url,
            access,
            PREDICTION_ID_SECRET=SECRET,
            ENDPOINT_NAME=names.endpoint,
            DRIFT_BUCKET=names.drift_bucket,
            ARTIFACTS_BUCKET=names.bucket,
            DRIFT_FLUSH_SECONDS="0.2",
            DRIFT_REFRESH_SECONDS="0.2",
        )
        with running_gateway(env, tmp_path / "stdout.log", access.api_key) as gateway:
            wait_until(lambda: "drift baseline in use" in gateway.log.read_text(), "the gateway to learn the baseline")
            with gateway.client() as client:
                for start in range(0, len(rows), 10):
                    response = client.post("/predict", json={"instances": rows[start : start + 10].tolist()})
                    assert response.status_code == 200, response.text
            keys: Any = wait_until(lambda: _all_counted(moto, names, len(rows)), "every row in the histogram files")

    hour = hour_of(keys[0])
    sm, s3, cloudwatch = (moto.client(name) for name in ("sagemaker", "s3", "cloudwatch"))
    outcome = run_drift_job(
        sm,
        s3,
        cloudwatch,
        bucket=names.bucket,
        work_bucket=names.drift_bucket,
        endpoint_name=names.endpoint,
        now=hour + timedelta(hours=1),
        policy=DriftPolicy(),
    )

    assert outcome.status == "checked" and outcome.skipped_histograms == 0
    assert outcome.drifted == ()
    record = json.loads(
        s3.get_object(Bucket=names.bucket, Key=outcome.record_uri.split(f"{names.bucket}/", 1)[1])["Body"].read()
    )
    written = [json.loads(s3.get_object(Bucket=names.drift_bucket, Key=key)["Body"].read()) for key in keys]
    # nothing of the drift check's working data in the artifacts bucket
    assert not s3.list_objects_v2(Bucket=names.bucket, Prefix="drift/").get("Contents")
    assert sum(sum(document["counts"]["f0"]) for document in written) == len(rows)  # all of them, once
    in_hour = sum(
        sum(document["counts"]["f0"]) for key, document in zip(keys, written, strict=True) if hour_of(key) == hour
    )
    assert {column["name"]: column["rows"] for column in record["columns"]} == dict.fromkeys(
        (*FEATURES, "prediction_score"), in_hour
    )
