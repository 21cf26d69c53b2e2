"""The Train action: data -> model -> evaluation -> model package (PendingManualApproval) -> exported variables.

``python -m safedeploy.release.train_and_register --work-dir build/release`` from the source root. With
`USE_SM_PIPELINE=true` the same data goes through the SageMaker Pipeline of `ml/pipeline.py` instead of training in
the build. Either way the step ends with the package ARN and its headline metrics in the exports file.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import boto3

from ml import serving
from ml.build import build_model
from ml.data import FEATURES, read_csv
from safedeploy import registry
from safedeploy.release.artifacts import upload_run_file
from safedeploy.release.drift_baseline import upload_drift_baseline
from safedeploy.release.exports import exported_variables, write_exports
from safedeploy.release.result import ReleaseResult
from safedeploy.release.settings import ReleaseSettings
from safedeploy.release.training_data import TrainingData, fetch_training_data

EXPORTS_FILE = "exports.env"


def train_in_build(
    settings: ReleaseSettings,
    client: Callable[[str], Any],
    data: TrainingData,
    work_dir: Path,
    progress: Callable[[str], None] = print,
) -> ReleaseResult:
    """Train here, upload the artifact and report, and register them with the serving container's image."""
    dataset = read_csv(data.path)
    build = build_model(dataset, work_dir / "model", seed=settings.seed)
    progress("trained: " + ", ".join(f"{name}={value:.4f}" for name, value in build.metrics.items()))
    model_uri = upload_run_file(client("s3"), settings, build.artifact, prefix="models")
    report_uri = upload_run_file(client("s3"), settings, build.report, prefix="evaluation")
    baseline = upload_drift_baseline(client("s3"), settings, dataset.features, FEATURES, build.scores, work_dir)
    package_arn = registry.register_model_package(
        client("sagemaker"),
        group=settings.model_package_group,
        image_uri=serving.image_uri(settings.region),
        model_data_url=model_uri,
        report_s3_uri=report_uri,
        metrics=build.metrics,
        commit_id=settings.commit_id,
        description=f"{settings.prefix} model from commit {settings.commit_id[:12]}, trained on {data.source}",
        container_environment=serving.ENVIRONMENT,
        drift_baseline=baseline,
    )
    return ReleaseResult(package_arn, build.metrics)


def run(
    settings: ReleaseSettings, client: Callable[[str], Any], work_dir: Path, progress: Callable[[str], None] = print
) -> ReleaseResult:
    data = fetch_training_data(settings, client, work_dir, progress)
    progress(f"training data: {data.source}")
    if settings.use_sm_pipeline:
        from safedeploy.release.sm_pipeline import train_in_pipeline  # needs ml/requirements-pipeline.txt

        return train_in_pipeline(settings, client, data, work_dir, progress)
    return train_in_build(settings, client, data, work_dir, progress)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", type=Path, required=True, help="local scratch directory for data and model")
    args = parser.parse_args(argv)
    session = boto3.session.Session()
    if not session.region_name:
        raise SystemExit("error: no AWS region (CodeBuild sets AWS_REGION; set it to run elsewhere)")
    try:
        settings = ReleaseSettings.from_environment(os.environ, session.client("ssm"), region=session.region_name)
        result = run(settings, session.client, args.work_dir)
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    exports = write_exports(exported_variables(result.package_arn, result.metrics), args.work_dir / EXPORTS_FILE)
    print(f"registered {result.package_arn} ({registry.PENDING}); exports in {exports}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
