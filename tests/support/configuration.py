"""The tests' own configuration: the context synth would read from cdk.json, built here instead of read from it.

The tests of the code build on these, so that a team's cdk.json (another environment, another strategy, its own
model) breaks none of them; tests/unit/shipped/ holds the few checks of the shipped cdk.json itself.

- `two_environments()`: dev (trains; destroyed with its stacks; a canary of 1 of 2 instances) promotes to prod
  (retained; locks its approved artifacts; 3 instances at 1000 requests/minute), with the example model of `ml/`.
- `three_environments()`: the same with staging, a copy of dev, promoted to by dev and promoting to prod.
- `ETA_MODEL`: the second example model (`eta/`), a regressor of five features answering JSON, for a test's own
  context (`{**two_environments(), "model": ETA_MODEL}`).
- `write_cdk_json()`: a configuration as the cdk.json a command reads.

Only the CDK feature flags (`@aws-cdk/...`) come from the shipped cdk.json: they say how the app's constructs
synthesize, which the stacks' tests are written against, and no team setting lives among them.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from ml import serving
from ml.data import FEATURES

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "my-mlops"

# The example model (ml/): its entry points, the container that serves it and the request it answers (the row
# ml/data.py's docstring names).
EXAMPLE_MODEL: dict[str, Any] = {
    "train": "ml.build:train_and_evaluate",
    "sample_data": "ml.data:write_sample",
    "sm_pipeline": "ml.pipeline:build_pipeline",
    "requirements": "ml/requirements.txt",
    "pipeline_requirements": "ml/requirements-pipeline.txt",
    "serving": {
        "framework": serving.FRAMEWORK,
        "framework_version": serving.FRAMEWORK_VERSION,
        "environment": dict(serving.ENVIRONMENT),
    },
    "contract": {"features": list(FEATURES), "health_check": [25, 1, 0, 1, 0, 0, 1, 1]},
    "metrics": {"auc": 0.75, "accuracy": 0.7, "f1": 0.6},
}
# The second example model (eta/): the model section docs/model.md shows for it.
ETA_MODEL: dict[str, Any] = {
    "train": "eta.build:train_and_evaluate",
    "sample_data": "eta.data:write_sample",
    "requirements": "eta/requirements.txt",
    "serving": {
        "framework": "sklearn",
        "framework_version": "1.9-0",
        "environment": {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"},
    },
    "contract": {
        "content_type": "application/json",
        "features": ["distance_km", "items", "hour", "raining", "courier_load"],
        "health_check": [3.2, 2, 12, 0, 0.4],
        "answer": {"kind": "value", "tolerance": 5, "healthy": [1, 240]},
    },
    "metrics": {"r2": 0.8, "within_5_min": 0.7},
}
DEV: dict[str, Any] = {
    "removal_policy": "destroy",
    "termination_protection": False,
    "promotes_to": "prod",
    "endpoint": {"canary_size_instances": 1, "autoscaling": {"enabled": True}},
    "serving": {"access": {"allow_http": True}},
}
PROD: dict[str, Any] = {
    "artifact_lock_days": 365,
    "pipeline": {"log_retention_days": 365},
    "endpoint": {
        "instance_count": 3,
        "canary_size_instances": 1,
        "termination_wait_seconds": 600,
        "alarms": {"error_rate_5xx_percent": 2.0},
        "canary": {"expected_requests_per_minute": 1000, "latency_log_sigma": 1.5},
        "autoscaling": {"enabled": True, "min_instances": 3, "max_instances": 8, "scale_in_cooldown_seconds": 600},
    },
    "serving": {
        "nat_gateways": 2,
        "certificate_parameter": f"/{PROJECT}/prod/gateway-certificate-arn",
        "rate_limit": {"waf_requests_per_client": 3000, "per_key_requests_per_second": 100, "per_key_burst": 200},
    },
}


def cdk_feature_flags() -> dict[str, Any]:
    """The CDK feature flags cdk.json sets: part of how the app is written, not of a team's configuration."""
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    return {key: value for key, value in context.items() if key.startswith("@aws-cdk/")}


def two_environments(project: str = PROJECT) -> dict[str, Any]:
    """dev -> prod with the example model, a fresh copy each call."""
    return {
        "project": project,
        "model": copy.deepcopy(EXAMPLE_MODEL),
        "environments": {"dev": copy.deepcopy(DEV), "prod": copy.deepcopy(PROD)},
        **cdk_feature_flags(),
    }


def three_environments(context: dict[str, Any] | None = None) -> dict[str, Any]:
    """dev -> staging -> prod: `context` (two_environments() by default) with staging, a copy of dev that is
    promoted to and promotes on."""
    context = copy.deepcopy(context if context is not None else two_environments())
    environments = context["environments"]
    staging = {**copy.deepcopy(environments["dev"]), "promotes_to": "prod"}
    environments["dev"]["promotes_to"] = "staging"
    ordered = {}  # staging right after dev, as docs/environments.md writes it
    for name, environment in environments.items():
        ordered[name] = environment
        if name == "dev":
            ordered["staging"] = staging
    context["environments"] = ordered
    return context


def write_cdk_json(directory: Path, context: dict[str, Any]) -> Path:
    """`context` as the cdk.json in `directory` a command reads (`--config`, or its working directory)."""
    path = directory / "cdk.json"
    path.write_text(json.dumps({"context": context}, indent=2))
    return path
