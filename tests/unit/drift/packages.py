"""A model package as the Train step registers it in the drift tests: artifacts under one run, a drift baseline."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from safedeploy import registry

GROUP, BUCKET = "demo-dev-models", "demo-dev-artifacts"


def register_with_baseline(sm: Any, baseline: Mapping[str, str], description: str) -> str:
    return registry.register_model_package(
        sm,
        group=GROUP,
        image_uri="image:1",
        model_data_url=f"s3://{BUCKET}/models/abc/1/model.tar.gz",
        report_s3_uri=f"s3://{BUCKET}/evaluation/abc/1/evaluation.json",
        metrics={"accuracy": 0.85},
        commit_id="abc123",
        description=description,
        drift_baseline=baseline,
    )
