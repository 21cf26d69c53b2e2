"""Entry point inside SageMaker's prebuilt scikit-learn container (shipped as `code/inference.py` in model.tar.gz).

It runs in the container, not in this project, so it imports nothing from `ml`: only the standard library, numpy and
joblib/scikit-learn, which the container has. Requests are `text/csv` rows of 8 numbers; the answer is one
probability of class 1 per line.
"""

from __future__ import annotations

import io
import os
from typing import Any

import joblib
import numpy as np

CSV = "text/csv"
MODEL_FILE = "model.joblib"
FEATURE_COUNT = 8


def model_fn(model_dir: str) -> Any:
    return joblib.load(os.path.join(model_dir, MODEL_FILE))


def input_fn(request_body: str | bytes, content_type: str) -> np.ndarray:
    if content_type.split(";")[0].strip() != CSV:
        raise ValueError(f"unsupported content type {content_type!r}; send {CSV} rows of {FEATURE_COUNT} numbers")
    text = request_body.decode("utf-8") if isinstance(request_body, bytes) else request_body
    rows = np.atleast_2d(np.loadtxt(io.StringIO(text), delimiter=",", dtype=float, ndmin=2))
    if rows.shape[1] != FEATURE_COUNT:
        raise ValueError(f"each row needs {FEATURE_COUNT} comma-separated numbers, got {rows.shape[1]}")
    return rows


def predict_fn(rows: np.ndarray, model: Any) -> np.ndarray:
    return model.predict_proba(rows)[:, 1]


def output_fn(scores: np.ndarray, accept: str) -> tuple[str, str]:
    if accept not in (CSV, "*/*", ""):
        raise ValueError(f"unsupported accept type {accept!r}; this model answers {CSV}")
    return "".join(f"{score:.6f}\n" for score in scores), CSV
