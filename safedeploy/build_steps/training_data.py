"""Where a release's training data comes from: the Feature Group, an external CSV, or the model's sample data.

`USE_FEATURE_STORE=true` reads the offline store (every feature but the record identifier and the event time);
otherwise `EXTERNAL_CSV_URI` (an s3:// CSV) when set; otherwise the model's `sample_data` entry point. Each way ends
as one local CSV with a header, so training never branches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safedeploy.build_steps.feature_store import export_offline_store, feature_columns
from safedeploy.build_steps.model_plugin import ModelPlugin
from safedeploy.build_steps.settings import ReleaseSettings
from safedeploy.errors import ConfigError
from safedeploy.s3_layout import split_s3_uri

DATASET_FILE = "dataset.csv"


@dataclass(frozen=True)
class TrainingData:
    path: Path
    source: str


def fetch_training_data(
    settings: ReleaseSettings,
    client: Callable[[str], Any],
    work_dir: Path,
    model: ModelPlugin,
    progress: Callable[[str], None] = print,
) -> TrainingData:
    destination = work_dir / DATASET_FILE
    if settings.use_feature_store:
        if not settings.feature_group_name:
            raise ConfigError("USE_FEATURE_STORE is true but no feature-group-name parameter is set")
        export_offline_store(
            client("sagemaker"),
            client("athena"),
            feature_group_name=settings.feature_group_name,
            columns=feature_columns(client("sagemaker"), settings.feature_group_name),
            results_uri=f"s3://{settings.data_bucket}/datasets/feature-store-queries/{settings.run_key}/",
            kms_key_arn=settings.kms_key_arn,
            destination=destination,
            progress=progress,
        )
        return TrainingData(destination, f"Feature Group {settings.feature_group_name}")
    if settings.external_csv_uri:
        bucket, key = split_s3_uri(settings.external_csv_uri)
        destination.parent.mkdir(parents=True, exist_ok=True)
        client("s3").download_file(bucket, key, str(destination))
        return TrainingData(destination, settings.external_csv_uri)
    model.write_sample(destination, rows=settings.rows, seed=settings.seed)
    return TrainingData(destination, f"sample data of {model.sample_data} ({settings.rows} rows, seed {settings.seed})")
