"""A second, deliberately tiny model that keeps the plug-in contract: one feature, a threshold, its own container.

It shares nothing with `ml/`: the release step must train and register it through cdk.json's entry points alone.
"""

from __future__ import annotations

import csv
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

COLUMNS = ("x", "label")


@dataclass(frozen=True)
class ToyBuild:
    artifact: Path
    report: Path
    metrics: dict[str, float]


def write_sample(path: Path, *, rows: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size=rows)
    values = rng.normal(loc=labels * 2.0, scale=1.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(zip(values.round(4), labels, strict=True))
    return path


def train(data_csv: Path, out_dir: Path, *, seed: int) -> ToyBuild:
    table = np.loadtxt(data_csv, delimiter=",", skiprows=1)
    values, labels = table[:, 0], table[:, 1].astype(int)
    threshold = float((values[labels == 0].mean() + values[labels == 1].mean()) / 2)
    predicted = (values >= threshold).astype(int)
    true_positive = int(((predicted == 1) & (labels == 1)).sum())
    precision = true_positive / max(int(predicted.sum()), 1)
    recall = true_positive / max(int(labels.sum()), 1)
    order = np.argsort(values)
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    positives = int(labels.sum())
    auc = (ranks[labels == 1].sum() - positives * (positives + 1) / 2) / (positives * (len(labels) - positives))
    metrics = {
        "auc": float(auc),
        "accuracy": float((predicted == labels).mean()),
        "f1": float(2 * precision * recall / max(precision + recall, 1e-12)),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    model_file = out_dir / "threshold.json"
    model_file.write_text(json.dumps({"threshold": threshold, "seed": seed}))
    artifact = out_dir / "model.tar.gz"
    with tarfile.open(artifact, "w:gz") as archive:
        archive.add(model_file, arcname=model_file.name)
    report = out_dir / "evaluation.json"
    section = {name: {"value": value, "standard_deviation": 0.0} for name, value in metrics.items()}
    report.write_text(json.dumps({"binary_classification_metrics": section}))
    return ToyBuild(artifact, report, metrics)
