from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path

import numpy as np
import pytest
import sklearn

from ml import evaluate, inference, serving
from ml.build import build_model, split
from ml.data import generate

ROOT = Path(__file__).resolve().parents[3]
SEED = 11


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    out = tmp_path_factory.mktemp("model")
    result = build_model(generate(3000, seed=SEED), out, seed=SEED)
    return result.artifact, json.loads(result.report.read_text())


def test_the_model_clears_the_dev_quality_gate_on_generated_data(built: tuple[Path, dict[str, object]]) -> None:
    _, report = built

    metrics = evaluate.headline_metrics(report)

    # cdk.json quality_gate for dev: min_auc 0.75, min_accuracy 0.7, min_f1 0.6.
    assert metrics["auc"] > 0.8
    assert metrics["accuracy"] > 0.72
    assert metrics["f1"] > 0.65


def test_the_report_has_sagemakers_model_quality_shape(built: tuple[Path, dict[str, object]]) -> None:
    _, report = built

    section = report["binary_classification_metrics"]
    assert isinstance(section, dict)
    for name in ("auc", "accuracy", "f1", "precision", "recall"):
        assert set(section[name]) == {"value", "standard_deviation"}
        assert 0.0 <= section[name]["value"] <= 1.0
        assert 0.0 < section[name]["standard_deviation"] < 0.05
    matrix = section["confusion_matrix"]
    assert sum(matrix[actual][guess] for actual in "01" for guess in "01") == 750  # the 25 % hold-out


def test_training_and_evaluation_are_deterministic_with_a_seed(tmp_path: Path) -> None:
    dataset = generate(1000, seed=SEED)

    first = build_model(dataset, tmp_path / "a", seed=SEED)
    again = build_model(dataset, tmp_path / "b", seed=SEED)

    assert first.report.read_text() == again.report.read_text()


def test_the_split_is_stratified_and_disjoint() -> None:
    dataset = generate(1000, seed=SEED)

    training, holdout = split(dataset, seed=SEED)

    assert training.rows + holdout.rows == dataset.rows and holdout.rows == 250
    assert holdout.labels.mean() == pytest.approx(dataset.labels.mean(), abs=0.01)


def test_evaluation_needs_both_classes() -> None:
    dataset = generate(100, seed=SEED)
    only_positive = type(dataset)(dataset.features, np.ones(dataset.rows, dtype=int))

    with pytest.raises(ValueError, match="both classes"):
        evaluate.model_quality_report(np.full(dataset.rows, 0.5), only_positive, seed=SEED)


def test_headline_metrics_refuse_a_report_without_them() -> None:
    with pytest.raises(ValueError, match="no 'binary_classification_metrics'"):
        evaluate.headline_metrics({"regression_metrics": {}})
    with pytest.raises(ValueError, match="lacks f1"):
        evaluate.headline_metrics({"binary_classification_metrics": {"auc": {"value": 1}, "accuracy": {"value": 1}}})


def test_the_artifact_serves_csv_rows_as_the_container_would(
    built: tuple[Path, dict[str, object]], tmp_path: Path
) -> None:
    artifact, _ = built
    with tarfile.open(artifact) as archive:
        assert sorted(archive.getnames()) == ["code/inference.py", "model.joblib"]
        archive.extractall(tmp_path, filter="data")

    model = inference.model_fn(str(tmp_path))
    rows = inference.input_fn(b"25,1,0,1,0,0,1,1\n70,0,1,0,0,1,1,0\n", "text/csv")
    body, content_type = inference.output_fn(inference.predict_fn(rows, model), "text/csv")

    assert content_type == "text/csv"
    scores = [float(line) for line in body.splitlines()]
    assert len(scores) == 2 and all(0.0 <= score <= 1.0 for score in scores)
    assert scores[0] > scores[1], "the young, high-risk-flag row scores above the old, low-risk one"


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        ("25,1,0,1,0,0,1,1", "application/json", "unsupported content type"),
        ("25,1,0,1,0,0,1", "text/csv", "8 comma-separated numbers, got 7"),
    ],
)
def test_the_entry_point_refuses_what_it_cannot_score(body: str, content_type: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        inference.input_fn(body, content_type)


def test_the_entry_point_answers_only_csv() -> None:
    with pytest.raises(ValueError, match="unsupported accept type"):
        inference.output_fn(np.array([0.5]), "application/json")


def test_training_uses_the_containers_scikit_learn() -> None:
    pins = dict(re.findall(r"^([\w-]+)==(\S+)$", (ROOT / "ml" / "requirements.txt").read_text(), re.MULTILINE))

    assert serving.training_library_version() == pins["scikit-learn"] == sklearn.__version__


def test_shared_pins_agree_with_the_runtime_requirements() -> None:
    def pins(path: Path) -> dict[str, str]:
        return dict(re.findall(r"^([\w-]+)==(\S+)$", path.read_text(), re.MULTILINE))

    runtime, model = pins(ROOT / "requirements.txt"), pins(ROOT / "ml" / "requirements.txt")

    assert {name: model[name] for name in runtime.keys() & model.keys()} == {
        name: runtime[name] for name in runtime.keys() & model.keys()
    }


@pytest.mark.parametrize("region", ["ap-northeast-2", "us-east-1"])
def test_the_image_is_resolved_for_the_region(region: str) -> None:
    uri = serving.image_uri(region)

    assert re.fullmatch(
        rf"\d{{12}}\.dkr\.ecr\.{region}\.amazonaws\.com/sagemaker-scikit-learn:{serving.FRAMEWORK_VERSION}-cpu-py3", uri
    )
