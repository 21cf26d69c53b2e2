"""Entry point inside SageMaker's prebuilt scikit-learn container (shipped as `code/inference.py` in model.tar.gz).

It imports nothing from `eta`: only the standard library, numpy and joblib/scikit-learn, which the container has.
A request is `application/json`, `{"instances": [[distance_km, items, hour, raining, courier_load], ...]}`; the
answer `{"predictions": [minutes, ...]}`.
"""

from __future__ import annotations

import json
import os
from typing import Any

import joblib
import numpy as np

JSON = "application/json"
MODEL_FILE = "model.joblib"
FEATURE_COUNT = 5


def model_fn(model_dir: str) -> Any:
    return joblib.load(os.path.join(model_dir, MODEL_FILE))


def input_fn(request_body: str | bytes, content_type: str) -> np.ndarray:
    if content_type.split(";")[0].strip() != JSON:
        raise ValueError(f"unsupported content type {content_type!r}; send {JSON}")
    instances = json.loads(request_body).get("instances")
    rows = np.asarray(instances, dtype=float)
    if rows.ndim != 2 or rows.shape[1] != FEATURE_COUNT:
        raise ValueError(f'"instances" must be rows of {FEATURE_COUNT} numbers')
    return rows


def predict_fn(rows: np.ndarray, model: Any) -> np.ndarray:
    return model.predict(rows)


def output_fn(minutes: np.ndarray, accept: str) -> tuple[str, str]:
    if accept not in (JSON, "*/*", ""):
        raise ValueError(f"unsupported accept type {accept!r}; this model answers {JSON}")
    return json.dumps({"predictions": [round(float(value), 3) for value in minutes]}), JSON
