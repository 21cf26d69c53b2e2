"""Fit the example classifier and save it the way the serving container loads it.

A scikit-learn pipeline (scaling + logistic regression) saved with joblib: the container's own scikit-learn loads it,
which is why `ml/requirements.txt` pins scikit-learn to the container's framework version.
"""

from __future__ import annotations

from pathlib import Path

import joblib
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from ml.data import Dataset

MODEL_FILE = "model.joblib"


def train(dataset: Dataset, *, seed: int) -> Pipeline:
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, random_state=seed))
    model.fit(dataset.features, dataset.labels)
    return model


def save_model(model: Pipeline, model_dir: Path) -> Path:
    model_dir.mkdir(parents=True, exist_ok=True)
    path = model_dir / MODEL_FILE
    joblib.dump(model, path)
    return path


def load_model(model_dir: Path) -> Pipeline:
    return joblib.load(model_dir / MODEL_FILE)
