"""From a data set to what the registry needs: model.tar.gz, the model-quality report and the headline metrics.

`train_and_evaluate` is the entry point cdk.json names (`model.train`); the release step calls it and registers its
outputs with the container `model.serving` describes (docs/model.md).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from ml import evaluate, serving, train
from ml.data import FEATURES, Dataset, generate, read_csv

TEST_FRACTION = 0.25
REPORT_NAME = "evaluation.json"


@dataclass(frozen=True)
class ModelBuild:
    artifact: Path
    report: Path
    metrics: dict[str, float]
    scores: np.ndarray | None = None  # held-out scores: the reference for prediction drift
    features: np.ndarray | None = None  # the training features: the reference for data drift
    feature_names: tuple[str, ...] = FEATURES


def split(dataset: Dataset, *, seed: int) -> tuple[Dataset, Dataset]:
    """Stratified hold-out split, so the evaluation set keeps the class balance of the data."""
    train_x, test_x, train_y, test_y = train_test_split(
        dataset.features, dataset.labels, test_size=TEST_FRACTION, random_state=seed, stratify=dataset.labels
    )
    return Dataset(train_x, train_y), Dataset(test_x, test_y)


def build_model(dataset: Dataset, out_dir: Path, *, seed: int) -> ModelBuild:
    training, holdout = split(dataset, seed=seed)
    model = train.train(training, seed=seed)
    model_file = train.save_model(model, out_dir / "model")
    scores = model.predict_proba(holdout.features)[:, 1]
    report = evaluate.model_quality_report(scores, holdout, seed=seed)
    return ModelBuild(
        artifact=serving.package_artifact(model_file, out_dir),
        report=evaluate.write_report(report, out_dir / REPORT_NAME),
        metrics=evaluate.headline_metrics(report),
        scores=scores,
        features=dataset.features,
    )


def train_and_evaluate(data_csv: Path, out_dir: Path, *, seed: int) -> ModelBuild:
    """The `model.train` entry point named in cdk.json: a CSV in; the artifact, its report and metrics out."""
    return build_model(read_csv(data_csv), out_dir, seed=seed)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train and evaluate the example model locally.")
    parser.add_argument("--data", type=Path, help="CSV with f0..f7,label; the seeded generator when omitted")
    parser.add_argument("--rows", type=int, default=5000, help="rows to generate when --data is omitted")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    dataset = read_csv(args.data) if args.data else generate(args.rows, args.seed)
    result = build_model(dataset, args.out, seed=args.seed)
    print(json.dumps({"artifact": str(result.artifact), "report": str(result.report), "metrics": result.metrics}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
