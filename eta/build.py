"""From orders to what the registry needs: model.tar.gz, the model-quality report and the headline metrics.

`train_and_evaluate` is the entry point cdk.json names (`model.train`). The report is SageMaker's model-quality shape
for regression (`regression_metrics`), each metric with a bootstrap standard deviation. The headline metrics are
higher-is-better, as the quality gate reads them: `r2` and `within_5_min` (the share of held-out orders predicted
within 5 minutes, the contract's tolerance).
"""

from __future__ import annotations

import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.metrics import mean_absolute_error, r2_score
from sklearn.model_selection import train_test_split

from eta.data import FEATURES, Orders, read_csv

TEST_FRACTION = 0.25
BOOTSTRAP_ROUNDS = 100
TOLERANCE_MINUTES = 5.0
MODEL_FILE, REPORT_NAME, ARTIFACT_NAME = "model.joblib", "evaluation.json", "model.tar.gz"
ENTRY_POINT = Path(__file__).parent / "inference.py"

SCORERS = {
    "r2": lambda truth, predicted: float(r2_score(truth, predicted)),
    "within_5_min": lambda truth, predicted: float(np.mean(np.abs(truth - predicted) <= TOLERANCE_MINUTES)),
    "mae": lambda truth, predicted: float(mean_absolute_error(truth, predicted)),
}
HEADLINE = ("r2", "within_5_min")


@dataclass(frozen=True)
class EtaBuild:
    artifact: Path
    report: Path
    metrics: dict[str, float]
    scores: np.ndarray  # held-out predictions: the reference for prediction drift
    features: np.ndarray  # the training features: the reference for data drift
    feature_names: tuple[str, ...] = FEATURES


def _report(truth: np.ndarray, predicted: np.ndarray, seed: int) -> dict[str, dict[str, dict[str, float]]]:
    rng = np.random.default_rng(seed)
    samples = [rng.integers(0, truth.size, truth.size) for _ in range(BOOTSTRAP_ROUNDS)]
    return {
        "regression_metrics": {
            name: {
                "value": scorer(truth, predicted),
                "standard_deviation": float(np.std([scorer(truth[s], predicted[s]) for s in samples], ddof=1)),
            }
            for name, scorer in SCORERS.items()
        }
    }


def build_model(orders: Orders, out_dir: Path, *, seed: int) -> EtaBuild:
    train_x, test_x, train_y, test_y = train_test_split(
        orders.features, orders.minutes, test_size=TEST_FRACTION, random_state=seed
    )
    model = HistGradientBoostingRegressor(max_iter=100, random_state=seed).fit(train_x, train_y)
    predicted = model.predict(test_x)
    report = _report(test_y, predicted, seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    report_path = out_dir / REPORT_NAME
    report_path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    model_path = out_dir / MODEL_FILE
    joblib.dump(model, model_path)
    artifact = out_dir / ARTIFACT_NAME
    with tarfile.open(artifact, "w:gz") as archive:  # the model at the root, the entry point under code/
        archive.add(model_path, arcname=MODEL_FILE)
        archive.add(ENTRY_POINT, arcname=f"code/{ENTRY_POINT.name}")
    metrics = {name: report["regression_metrics"][name]["value"] for name in HEADLINE}
    return EtaBuild(artifact, report_path, metrics, predicted, orders.features)


def train_and_evaluate(data_csv: Path, out_dir: Path, *, seed: int) -> EtaBuild:
    """The `model.train` entry point named in cdk.json: a CSV in; the artifact, its report and metrics out."""
    return build_model(read_csv(data_csv), out_dir, seed=seed)
