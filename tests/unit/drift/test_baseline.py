from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import botocore.session
import numpy as np
import pytest

from safedeploy import registry
from safedeploy.drift.baseline import SCORE, Baseline, compute_baseline, sha256_digest
from testbed.aws import REGION, SESSION, in_process_aws
from tests.unit.drift.packages import register_with_baseline

NAMES = ("age", "flag")
GROUP, BUCKET = "demo-dev-models", "demo-dev-artifacts"


def training(rows: int = 4000, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.integers(18, 81, rows), rng.random(rows) < 0.3]).astype(float)


def test_numbers_get_decile_bins_and_flags_get_frequencies_with_an_other_bucket() -> None:
    baseline = compute_baseline(training(), NAMES, np.random.default_rng(1).random(2000))

    age, flag = baseline.features
    assert age.kind == "numeric" and age.bins == 10
    assert np.allclose(age.proportions, 0.1, atol=0.02)
    assert flag.kind == "categorical" and flag.categories == ("0", "1")
    assert flag.proportions[1] == pytest.approx(0.3, abs=0.03)
    assert 0.0 < flag.proportions[2] < 1e-3  # never seen in training, yet not impossible
    assert baseline.score is not None and baseline.score.name == SCORE and baseline.score.bins == 10


def test_production_values_fall_in_the_training_bins_whatever_their_spelling() -> None:
    baseline = compute_baseline(training(), NAMES)
    age, flag = baseline.features

    assert age.counts(["17", 30.0, "80", "", None, "n/a"]).sum() == 3
    assert age.counts([17])[0] == 1 and age.counts([200])[-1] == 1
    assert flag.counts(["1", 1.0, "1.0", "0", "7", "", None]).tolist() == [1, 3, 1]


def test_the_json_round_trips_and_its_digest_names_it() -> None:
    baseline = compute_baseline(training(), NAMES, np.linspace(0, 1, 500))
    body = baseline.to_json()

    assert Baseline.from_json(body) == baseline
    assert sha256_digest(body) == sha256_digest(compute_baseline(training(), NAMES, np.linspace(0, 1, 500)).to_json())
    with pytest.raises(ValueError, match="not a drift baseline"):
        Baseline.from_json(b'{"schema": "other"}')


def test_too_few_rows_or_a_wrong_shape_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="at least 10 rows"):
        compute_baseline(training(5), NAMES)
    with pytest.raises(ValueError, match="rows x 2 columns"):
        compute_baseline(np.zeros((50, 3)), NAMES)


def _metrics_source_shape() -> Any:
    model = botocore.session.get_session().get_service_model("sagemaker")
    baselines = model.operation_model("CreateModelPackage").input_shape.members["DriftCheckBaselines"]
    return baselines.members["ModelDataQuality"].members["Statistics"]


@pytest.fixture
def sm(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with in_process_aws(monkeypatch):
        client = SESSION.client("sagemaker", region_name=REGION)
        client.create_model_package_group(ModelPackageGroupName=GROUP)
        yield client


def test_the_package_carries_the_baseline_as_drift_check_statistics_the_service_model_accepts(sm: Any) -> None:
    body = compute_baseline(training(), NAMES).to_json()
    source = {"ContentType": "application/json", "S3Uri": f"s3://{BUCKET}/models/abc/1/drift-baseline.json"}
    source["ContentDigest"] = sha256_digest(body)
    shape = _metrics_source_shape()
    assert set(shape.required_members) <= set(source)
    for name, value in source.items():
        member = shape.members[name]
        assert re.fullmatch(member.metadata["pattern"], value), name
        assert len(value) <= member.metadata["max"]

    arn = register_with_baseline(sm, source, "candidate")

    assert registry.drift_baseline_source(sm, arn) == source
