"""Evaluation in SageMaker's model-quality report shape, so the registry and Model Monitor read the same file.

Each metric carries a bootstrap standard deviation: an approver can tell a real regression from resampling noise.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

from ml.data import Dataset

REPORT_KEY = "binary_classification_metrics"
HEADLINE_METRICS = ("auc", "accuracy", "f1")
THRESHOLD = 0.5
BOOTSTRAP_ROUNDS = 200

Scorer = Callable[[np.ndarray, np.ndarray, np.ndarray], float]
SCORERS: dict[str, Scorer] = {
    "auc": lambda labels, scores, _: float(roc_auc_score(labels, scores)),
    "accuracy": lambda labels, _, predicted: float(accuracy_score(labels, predicted)),
    "f1": lambda labels, _, predicted: float(f1_score(labels, predicted, zero_division=0)),
    "precision": lambda labels, _, predicted: float(precision_score(labels, predicted, zero_division=0)),
    "recall": lambda labels, _, predicted: float(recall_score(labels, predicted, zero_division=0)),
}


def model_quality_report(scores: np.ndarray, dataset: Dataset, *, seed: int) -> dict[str, Any]:
    """`{"binary_classification_metrics": {"auc": {"value", "standard_deviation"}, ...}}` for scores of class 1."""
    labels = dataset.labels
    if len(np.unique(labels)) < 2:
        raise ValueError("the evaluation set needs both classes to measure AUC")
    if scores.shape != labels.shape:
        raise ValueError(f"{scores.shape[0]} scores for {labels.shape[0]} labels")
    predicted = (scores >= THRESHOLD).astype(int)
    samples = _bootstrap_indices(labels, seed)
    metrics = {
        name: {
            "value": scorer(labels, scores, predicted),
            "standard_deviation": float(
                np.std([scorer(labels[rows], scores[rows], predicted[rows]) for rows in samples], ddof=1)
            ),
        }
        for name, scorer in SCORERS.items()
    }
    return {REPORT_KEY: {**metrics, "confusion_matrix": _confusion_matrix(labels, predicted)}}


def headline_metrics(report: Mapping[str, Any]) -> dict[str, float]:
    """The metrics the quality gate and the approval message use, read back from a report."""
    section = report.get(REPORT_KEY)
    if not isinstance(section, Mapping):
        raise ValueError(f"not a model-quality report: no {REPORT_KEY!r} section")
    missing = [name for name in HEADLINE_METRICS if name not in section]
    if missing:
        raise ValueError(f"model-quality report lacks {', '.join(missing)}")
    return {name: float(section[name]["value"]) for name in HEADLINE_METRICS}


def write_report(report: Mapping[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    return path


def _bootstrap_indices(labels: np.ndarray, seed: int) -> list[np.ndarray]:
    """Resamples that keep both classes (AUC is undefined otherwise)."""
    rng = np.random.default_rng(seed)
    samples: list[np.ndarray] = []
    while len(samples) < BOOTSTRAP_ROUNDS:
        rows = rng.integers(0, labels.shape[0], size=labels.shape[0])
        if labels[rows].min() != labels[rows].max():
            samples.append(rows)
    return samples


def _confusion_matrix(labels: np.ndarray, predicted: np.ndarray) -> dict[str, dict[str, int]]:
    return {
        str(actual): {str(guess): int(((labels == actual) & (predicted == guess)).sum()) for guess in (0, 1)}
        for actual in (0, 1)
    }
