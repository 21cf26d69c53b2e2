"""The Train step's drift baseline: computed from the training data and held-out scores, uploaded next to the
model artifact, and described as the MetricsSource (URI and sha256) the model package's DriftCheckBaselines holds."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy.typing as npt

from safedeploy.build_steps.artifacts import upload_run_file
from safedeploy.build_steps.settings import ReleaseSettings
from safedeploy.drift.baseline import CONTENT_TYPE, compute_baseline, sha256_digest
from safedeploy.s3_layout import BASELINE_NAME


def upload_drift_baseline(
    s3: Any,
    settings: ReleaseSettings,
    features: npt.ArrayLike,
    names: Sequence[str],
    scores: npt.ArrayLike | None,
    work_dir: Path,
) -> dict[str, str]:
    body = compute_baseline(features, names, scores).to_json()
    path = work_dir / BASELINE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    uri = upload_run_file(s3, settings, path, prefix="models")
    return {"ContentType": CONTENT_TYPE, "S3Uri": uri, "ContentDigest": sha256_digest(body)}
