"""Training-serving skew: the candidate's training distribution on the live model's bins against live traffic."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from safedeploy import s3_layout
from safedeploy.drift.baseline import SKETCH_STEPS, Baseline, compute_baseline, sha256_digest
from safedeploy.drift.check import DriftPolicy
from safedeploy.drift.settings import DriftConfig
from safedeploy.drift.skew import compare
from safedeploy.lambda_actions.quality_gate import QualityPolicy, SkewSettings, check_candidate, run_quality_gate
from safedeploy.lambda_actions.registry_api import default_registry
from tests.unit.drift.packages import BUCKET, DRIFT_BUCKET, drift_account, register_with_baseline, store_baseline

ENDPOINT = "demo-dev-endpoint"
NOW = datetime(2026, 12, 1, 10, 5, tzinfo=UTC)
NAMES = ("age", "level", "flag")


def _table(rng: np.random.Generator, n: int, age_shift: float = 0.0) -> np.ndarray:
    return np.column_stack([rng.normal(50 + age_shift, 10, n), rng.integers(0, 4, n), rng.random(n) < 0.3])


def _baseline(seed: int, age_shift: float = 0.0) -> Baseline:
    rng = np.random.default_rng(seed)
    return compute_baseline(_table(rng, 5000, age_shift), NAMES, rng.random(5000))


def _traffic(live: Baseline, rows: np.ndarray) -> dict[str, np.ndarray]:
    return {reference.name: reference.counts(rows[:, i]) for i, reference in enumerate(live.features)}


def test_a_training_distribution_re_expressed_on_its_own_bins_is_its_own_shares() -> None:
    baseline = _baseline(1)
    for reference in baseline.features:
        shares = reference.shares_on(reference)
        assert np.abs(shares - np.array(reference.proportions)).max() <= 1.0 / SKETCH_STEPS + 1e-9


def test_on_another_models_bins_the_shares_match_binning_the_training_rows_there() -> None:
    rng = np.random.default_rng(2)
    rows = _table(rng, 5000)
    candidate = compute_baseline(rows, NAMES)
    live = _baseline(3)
    for column, (mine, theirs) in enumerate(zip(candidate.features, live.features, strict=True)):
        counts = theirs.counts(rows[:, column])
        exact = (counts + 0.5) / (counts.sum() + 0.5 * counts.size)
        assert np.abs(mine.shares_on(theirs) - exact).max() <= 1.0 / SKETCH_STEPS + 1e-9, mine.name


def test_only_a_candidate_trained_on_other_data_than_live_traffic_is_skewed() -> None:
    live = _baseline(4)
    traffic = _traffic(live, _table(np.random.default_rng(5), 50_000))
    same = compare(_baseline(6), live, traffic, DriftPolicy())
    shifted = compare(_baseline(7, age_shift=5.0), live, traffic, DriftPolicy())
    assert [column.name for column in same if column.skewed] == []
    assert [column.name for column in shifted if column.skewed] == ["age"]
    assert next(column.psi for column in shifted if column.name == "age") > 0.1


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    with drift_account(monkeypatch) as (sm, s3):
        yield {"sm": sm, "s3": s3}


def _register(aws: dict[str, Any], baseline: Baseline, run: str, status: str) -> str:
    source = store_baseline(aws["s3"], baseline.to_json(), run=run)
    package = register_with_baseline(aws["sm"], source, run, run=run)
    aws["sm"].update_model_package(ModelPackageArn=package, ModelApprovalStatus=status)
    return package


def _write_week_of_traffic(aws: dict[str, Any], live: Baseline) -> None:
    rng = np.random.default_rng(8)
    digest = sha256_digest(live.to_json())
    for back in (1, 30, 160, 200):  # 200 hours ago is outside the 7 days
        hour = NOW.replace(minute=0) - timedelta(hours=back)
        counts = {name: values.tolist() for name, values in _traffic(live, _table(rng, 5000)).items()}
        key = f"{s3_layout.histogram_prefix(ENDPOINT, hour)}task-a-{digest[7:19]}.json"
        document = json.dumps({"baseline_digest": digest, "counts": counts})
        aws["s3"].put_object(Bucket=DRIFT_BUCKET, Key=key, Body=document)


POLICY = QualityPolicy(minimums={"accuracy": 0.7}, max_regression=0.5)


@pytest.mark.parametrize("block", [False, True])
def test_the_gate_shows_skew_and_blocks_only_when_configured(aws: dict[str, Any], block: bool) -> None:
    live = _baseline(4)
    _register(aws, live, "live/1", "Approved")
    candidate = _register(aws, _baseline(7, age_shift=5.0), "cand/2", "PendingManualApproval")
    _write_week_of_traffic(aws, live)
    skew = SkewSettings(BUCKET, DRIFT_BUCKET, ENDPOINT, DriftConfig(skew_blocks_approval=block))

    result = check_candidate(aws["sm"], aws["s3"], default_registry(), candidate, POLICY, skew, now=NOW)

    assert result.skew is not None and result.skew.skewed == ("age",)
    assert result.skew.rows == 15_000  # three hours inside the week
    assert "age: PSI" in result.report() and "SKEWED" in result.report()
    assert result.passed is not block
    assert result.skew_summary().startswith("SKEWED age (15000 rows, 7 d")


def test_the_skew_summary_is_exported_for_the_approval_message(aws: dict[str, Any]) -> None:
    live = _baseline(4)
    _register(aws, live, "live/1", "Approved")
    candidate = _register(aws, _baseline(6), "cand/2", "PendingManualApproval")
    success = run_quality_gate(
        aws["sm"], aws["s3"], default_registry(), candidate, POLICY, SkewSettings(BUCKET, DRIFT_BUCKET, ENDPOINT)
    )
    assert success.variables == {"SKEW": "no live traffic in 7 d to compare"}
