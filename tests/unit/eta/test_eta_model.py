"""The second example model (eta/): it clears its own minimums, reports SageMaker's regression shape, and its
artifact answers its contract's health check, read as the gateway and the smoke test read it."""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path

import pytest

from eta import inference
from eta.build import EtaBuild
from eta.data import COLUMNS, read_csv, write_sample
from safedeploy.build_steps.model_plugin import ModelPlugin
from safedeploy.model_wire import encode_rows
from tests.support.configuration import ETA_MODEL
from tests.support.imports import imported_modules

ROOT = Path(__file__).resolve().parents[3]
PLUGIN = ModelPlugin.from_mapping(ETA_MODEL)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> EtaBuild:
    work = tmp_path_factory.mktemp("eta")
    return PLUGIN.train_model(PLUGIN.write_sample(work / "orders.csv", rows=3000, seed=11), work / "out", seed=11)


def test_the_model_reports_its_headline_metrics_above_their_minimums(built: EtaBuild) -> None:
    assert set(built.metrics) == set(PLUGIN.metrics)
    assert all(built.metrics[name] > minimum for name, minimum in PLUGIN.metrics.items()), built.metrics


def test_the_report_has_sagemakers_regression_shape(built: EtaBuild) -> None:
    section = json.loads(built.report.read_text())["regression_metrics"]
    assert set(section) == {"r2", "within_5_min", "mae"}
    assert all(set(entry) == {"value", "standard_deviation"} for entry in section.values())
    assert 0 < section["mae"]["value"] < 5  # minutes: the noise alone is 3 minutes of standard deviation


def test_the_artifact_answers_the_contracts_health_check_with_a_healthy_value(built: EtaBuild, tmp_path: Path) -> None:
    with tarfile.open(built.artifact) as archive:
        assert sorted(archive.getnames()) == ["code/inference.py", "model.joblib"]
        archive.extractall(tmp_path, filter="data")
    contract = PLUGIN.contract
    model = inference.model_fn(str(tmp_path))
    rows = inference.input_fn(contract.health_check_body(), contract.content_type)
    body, content_type = inference.output_fn(inference.predict_fn(rows, model), contract.content_type)
    assert content_type == contract.content_type
    assert contract.health_problem(contract.read_answers(body.encode())) is None


def test_the_drift_reference_is_the_contracts_columns(built: EtaBuild) -> None:
    assert built.feature_names == PLUGIN.contract.features
    assert built.features.shape[1] == PLUGIN.contract.feature_count and built.scores.ndim == 1


def test_a_request_of_another_shape_is_refused_by_the_entry_point() -> None:
    with pytest.raises(ValueError, match="rows of 5 numbers"):
        inference.input_fn(encode_rows("application/json", [[1.0, 2.0]]), "application/json")
    with pytest.raises(ValueError, match="unsupported content type 'text/csv'"):
        inference.input_fn(b"1,2,3,4,5", "text/csv")


def test_a_csv_without_the_columns_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("distance_km,items\n1,2\n")
    with pytest.raises(ValueError, match=f"missing columns {re.escape(', '.join(COLUMNS[2:]))}"):
        read_csv(path)


def test_the_package_stands_alone() -> None:
    """A team's model imports neither the platform nor the other example: it could live in its own repository."""
    imported = {module for path in (ROOT / "eta").glob("*.py") for module in imported_modules(path)}
    assert not {module for module in imported if module.split(".")[0] in ("ml", "safedeploy", "serving")}


def test_training_needs_the_serving_containers_scikit_learn() -> None:
    pins = dict(line.split("==") for line in (ROOT / "eta/requirements.txt").read_text().splitlines() if "==" in line)
    release, _, build = ETA_MODEL["serving"]["framework_version"].partition("-")
    assert pins["scikit-learn"] == f"{release}.{build}"


def test_the_sample_data_entry_point_writes_the_columns_it_reads(tmp_path: Path) -> None:
    orders = read_csv(write_sample(tmp_path / "orders.csv", rows=50, seed=1))
    assert orders.features.shape == (50, 5) and (orders.minutes >= 1).all()
