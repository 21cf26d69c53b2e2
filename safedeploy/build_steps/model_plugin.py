"""The model plug-in contract: the entry points `cdk.json` names, loaded by name so the library imports no model.

`context.model` in cdk.json:

    "model": {
      "train": "ml.build:train_and_evaluate",       # (data_csv, out_dir, *, seed) -> .artifact, .report, .metrics
      "sample_data": "ml.data:write_sample",        # (path, *, rows, seed) -> path; data when no source is set
      "sm_pipeline": "ml.pipeline:build_pipeline",  # optional: (PipelineSpec, boto_session) -> SageMaker Pipeline
                                                    # that trains and evaluates (PIPELINE_* below); the build registers
      "requirements": "ml/requirements.txt",        # optional: what the Train build installs for the model
      "pipeline_requirements": "ml/requirements-pipeline.txt",  # optional: installed with use_sm_pipeline
      "serving": {"framework": "sklearn", "framework_version": "1.9-0", "environment": {...}},
                 # or a custom container in this account's ECR: {"image_repository": "my-server", "image_tag": "1.0"}
      "contract": {"content_type": "text/csv", "features": [...], "health_check": [...]},  # serving_contract.py
      "metrics": {"auc": 0.75, "accuracy": 0.7, "f1": 0.6}  # what train reports (higher is better) and each minimum
    }

The Train build reads this from the cdk.json of the commit it trains, so model code and its entry points always come
from the same commit; synth validates the same section with the same code.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pydantic import Field, ValidationInfo, field_validator, model_validator

from safedeploy.errors import ConfigError
from safedeploy.section_fields import MetricMinimums, Text, TextMapping
from safedeploy.sections import Section, rule, validated
from safedeploy.serving_contract import ServingContract

ENTRY_POINT_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$"
ECR_REPOSITORY_PATTERN = r"^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$"
IMAGE_TAG_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"
ENVIRONMENT_KEY_PATTERN = r"^[a-zA-Z_][a-zA-Z0-9_]{0,1023}$"
# A relative path inside the repository (the Train build installs it with pip -r).
REQUIREMENTS_PATTERN = r"^([A-Za-z0-9_][A-Za-z0-9_.-]*/)*[A-Za-z0-9_][A-Za-z0-9_.-]*\.txt$|^$"
ENTRY_POINT_EXAMPLE = "package.module:function"
# A framework needs its version, a custom image its tag (both checked even when left out: validate_default).
NEEDED_WITH = {"framework_version": "framework", "image_tag": "image_repository"}
CONFIG_FILE = "cdk.json"
# What the Train build reads back from a model's SageMaker Pipeline: what its step `Evaluate` wrote to
# `<PipelineSpec.evaluation_uri>/<execution id>/`: the model-quality report, a record of the model it scored
# (`{"uri": <S3 URI>, "sha256": <hex digest of those bytes>}`: the build registers those bytes and no others) and,
# optionally, the held-out scores (`{"scores": [...]}`: the prediction-drift reference).
PIPELINE_EVALUATE_STEP = "Evaluate"
PIPELINE_REPORT_NAME = "evaluation.json"
PIPELINE_MODEL_RECORD = "evaluated-model.json"
PIPELINE_SCORES_NAME = "holdout-scores.json"


class TrainedModel(Protocol):
    """What a `train` entry point returns: the artifact (model.tar.gz), its model-quality report, headline metrics.

    Optionally also `features` (the training matrix, one column per name in `feature_names`) and `scores` (held-out
    prediction scores): the drift reference registered with the package. A model without them has no drift check.
    """

    artifact: Path
    report: Path
    metrics: Mapping[str, float]


@dataclass(frozen=True)
class PipelineSpec:
    """What an `sm_pipeline` entry point gets: everything environment-specific, so its definition holds no name,
    bucket or ARN. The pipeline trains and evaluates (writing under `pipelines/` of the artifacts bucket, the only
    prefix the execution role may write); the Train build then records the evidence and registers, as without it."""

    name: str
    region: str
    role_arn: str
    artifacts_bucket: str
    work_prefix: str  # the key prefix of artifacts_bucket the pipeline's code and job outputs go under
    evaluation_uri: str  # where Evaluate writes, under a folder named by the execution id (PIPELINE_* above)
    kms_key_arn: str
    code_dir: Path  # a folder holding the model's code package, uploaded for the jobs
    minimums: Mapping[str, float]  # model.metrics: a candidate below any of them can stop before the build reads it
    seed: int = 42


class Serving(Section):
    """A framework image SageMaker publishes (resolved per region) or a custom image in this account's ECR."""

    framework: Text(r"([a-z0-9-]+)?", "sklearn") = ""
    framework_version: Text(r"([0-9][0-9A-Za-z.-]*)?", "1.9-0") = Field("", validate_default=True)
    image_repository: Text(f"({ECR_REPOSITORY_PATTERN})?", "my-model-server") = ""
    image_tag: Text(f"({IMAGE_TAG_PATTERN})?", "1.0") = Field("", validate_default=True)
    environment: TextMapping(ENVIRONMENT_KEY_PATTERN) = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _one_image(cls, raw: Any) -> Any:
        if isinstance(raw, Mapping) and bool(raw.get("framework")) == bool(raw.get("image_repository")):
            raise ValueError(
                "set either framework and framework_version (a SageMaker image) or image_repository and "
                "image_tag (a custom container in this account's ECR)"
            )
        return raw

    @field_validator(*NEEDED_WITH)
    @classmethod
    def _given_with(cls, value: str, info: ValidationInfo) -> str:
        owner = NEEDED_WITH[str(info.field_name)]
        named = info.data.get(owner, "")
        if named and not value:
            raise rule(f"missing for {owner} {named!r}")
        return value

    @property
    def is_custom_container(self) -> bool:
        return bool(self.image_repository)

    def image_uri(self, region: str, account: Callable[[], str]) -> str:
        """The serving image; `account` is asked only for a custom container (STS, at run time: no literal)."""
        if self.is_custom_container:
            return f"{account()}.dkr.ecr.{region}.amazonaws.com/{self.image_repository}:{self.image_tag}"
        try:
            from sagemaker.core import image_uris  # the table of SageMaker's per-region registries, offline
        except ImportError:
            raise ConfigError(
                "model.serving.framework images are resolved by sagemaker-core: add it to the model's requirements"
            ) from None
        return str(
            image_uris.retrieve(
                framework=self.framework, region=region, version=self.framework_version, image_scope="inference"
            )
        )


class ModelPlugin(Section):
    train: Text(ENTRY_POINT_PATTERN, ENTRY_POINT_EXAMPLE)
    sample_data: Text(ENTRY_POINT_PATTERN, ENTRY_POINT_EXAMPLE)
    serving: Serving
    contract: ServingContract
    metrics: MetricMinimums
    sm_pipeline: Text(f"({ENTRY_POINT_PATTERN})?", ENTRY_POINT_EXAMPLE) = ""
    requirements: Text(REQUIREMENTS_PATTERN, "ml/requirements.txt") = ""
    pipeline_requirements: Text(REQUIREMENTS_PATTERN, "ml/requirements-pipeline.txt") = ""

    @classmethod
    def from_mapping(cls, raw: object, path: str = "model") -> ModelPlugin:
        """Validate the `model` section; raise ConfigError naming the first bad key."""
        if raw is None:
            raise ConfigError(f"{path}: missing; name the model's entry points (docs/model.md)")
        if isinstance(raw, Mapping) and "contract" not in raw:
            ServingContract.from_mapping(None, f"{path}.contract")  # the missing contract's own line
        if isinstance(raw, Mapping) and "metrics" not in raw:
            raise ConfigError(
                f"{path}.metrics: missing; name the headline metrics train reports (higher is better) and the lowest "
                'acceptable value of each, e.g. {"auc": 0.75} (docs/model.md)'
            )
        return validated(cls, raw, path)

    @classmethod
    def from_config_file(cls, path: Path) -> ModelPlugin:
        """The `model` section of a cdk.json (the Train build's source root holds the one of its commit)."""
        try:
            context = json.loads(path.read_text()).get("context", {})
        except (OSError, json.JSONDecodeError) as error:
            raise ConfigError(f"{path}: cannot read the model's entry points: {error}") from None
        try:
            return cls.from_mapping(context.get("model"), path="model")
        except ConfigError as error:
            raise ConfigError(f"{path}: {error}") from None

    def load(self, entry: str) -> Callable[..., Any]:
        """Import `package.module:function`; a missing one is named with the key that points to it."""
        module_name, _, attribute = entry.partition(":")
        try:
            function = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as error:
            raise ConfigError(f"model entry point {entry!r} cannot be loaded: {error}") from None
        if not callable(function):
            raise ConfigError(f"model entry point {entry!r} is not callable")
        return function

    def train_model(self, data_csv: Path, out_dir: Path, *, seed: int) -> TrainedModel:
        trained = self.load(self.train)(data_csv, out_dir, seed=seed)
        missing = [name for name in ("artifact", "report", "metrics") if not hasattr(trained, name)]
        if missing:
            raise ConfigError(f"model entry point {self.train!r} returned no {', '.join(missing)}")
        return trained

    def write_sample(self, path: Path, *, rows: int, seed: int) -> Path:
        return Path(self.load(self.sample_data)(path, rows=rows, seed=seed))

    @property
    def code_package(self) -> str:
        """The top-level package holding the model's code (uploaded as the SageMaker Pipeline jobs' source)."""
        return self.train.split(".", 1)[0].split(":", 1)[0]


def main(argv: list[str] | None = None) -> int:
    """`python -m safedeploy.build_steps.model_plugin requirements|pipeline-requirements`: the file to install."""
    parser = argparse.ArgumentParser(description="Print a file the model's cdk.json section names (empty if none).")
    parser.add_argument("what", choices=["requirements", "pipeline-requirements"])
    args = parser.parse_args(argv)
    try:
        plugin = ModelPlugin.from_config_file(Path(os.environ.get("MODEL_CONFIG") or CONFIG_FILE))
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(plugin.requirements if args.what == "requirements" else plugin.pipeline_requirements)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
