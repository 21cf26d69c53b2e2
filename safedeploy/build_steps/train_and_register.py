"""The Train action: data -> model -> evaluation -> model package (PendingManualApproval) -> exported variables.

``python -m safedeploy.build_steps.train_and_register --work-dir build/release`` from the source root. The model is the
one cdk.json's `model` section names (its entry points are imported by name; `MODEL_CONFIG` points to another file).
With `USE_SM_PIPELINE=true` the same data goes through the model's SageMaker Pipeline instead of training in the
build. Either way the build records and registers what was trained (`register_candidate`: one path, so a package
carries the same evidence whichever way it was trained) and ends with the package ARN and its headline metrics in
the exports file.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import boto3

from safedeploy import registry
from safedeploy.build_steps import tooling
from safedeploy.build_steps.artifacts import upload_run_file
from safedeploy.build_steps.drift_baseline import upload_drift_baseline
from safedeploy.build_steps.exports import exported_variables, write_exports
from safedeploy.build_steps.model_plugin import CONFIG_FILE, ModelPlugin, TrainedModel
from safedeploy.build_steps.result import ReleaseResult
from safedeploy.build_steps.settings import ReleaseSettings
from safedeploy.build_steps.training_data import TrainingData, fetch_training_data
from safedeploy.digests import sha256_file

EXPORTS_FILE = "exports.env"


def register_candidate(
    settings: ReleaseSettings,
    client: Callable[[str], Any],
    build: TrainedModel,
    data: TrainingData,
    work_dir: Path,
    model: ModelPlugin,
    progress: Callable[[str], None] = print,
    source_root: Path = Path(),
) -> ReleaseResult:
    """Upload the artifact, report and deploy tooling as new objects under the write-once prefixes and register them
    with the model's serving image, their digests and the drift baseline."""
    metrics = {name: float(value) for name, value in build.metrics.items()}
    progress("trained: " + ", ".join(f"{name}={value:.4f}" for name, value in metrics.items()))
    bundle = tooling.write_bundle(source_root, work_dir / tooling.BUNDLE_NAME)
    model_uri = upload_run_file(client("s3"), settings, build.artifact, prefix="models")
    report_uri = upload_run_file(client("s3"), settings, build.report, prefix="evaluation")
    tooling_uri = upload_run_file(client("s3"), settings, bundle, prefix="tooling")
    provenance = {
        registry.MODEL_SHA256_PROPERTY: sha256_file(build.artifact),
        registry.EVALUATION_SHA256_PROPERTY: sha256_file(build.report),
        registry.TOOLING_SHA256_PROPERTY: sha256_file(bundle),
        registry.TOOLING_URI_PROPERTY: tooling_uri,
    }
    progress(f"deploy tooling {provenance[registry.TOOLING_SHA256_PROPERTY][:12]} uploaded to {tooling_uri}")
    baseline = _drift_baseline(client, settings, build, work_dir)
    package_arn = registry.register_model_package(
        client("sagemaker"),
        group=settings.model_package_group,
        artifacts_bucket=settings.artifacts_bucket,
        image_uri=model.serving.image_uri(settings.region, account=lambda: _account(client)),
        model_data_url=model_uri,
        report_s3_uri=report_uri,
        metrics=metrics,
        commit_id=settings.commit_id,
        description=f"{settings.naming.prefix} model from commit {settings.commit_id[:12]}, trained on {data.source}",
        container_environment=dict(model.serving.environment),
        provenance=provenance,
        drift_baseline=baseline,
    )
    return ReleaseResult(package_arn, metrics)


def _drift_baseline(
    client: Callable[[str], Any], settings: ReleaseSettings, build: Any, work_dir: Path
) -> dict[str, str] | None:
    """The drift reference of a model that offers one (`features`, `feature_names`, `scores`; see TrainedModel)."""
    features = getattr(build, "features", None)
    if features is None:
        return None
    names = getattr(build, "feature_names", ())
    return upload_drift_baseline(client("s3"), settings, features, names, getattr(build, "scores", None), work_dir)


def run(
    settings: ReleaseSettings,
    client: Callable[[str], Any],
    work_dir: Path,
    model: ModelPlugin,
    progress: Callable[[str], None] = print,
) -> ReleaseResult:
    data = fetch_training_data(settings, client, work_dir, model, progress)
    progress(f"training data: {data.source}")
    if settings.use_sm_pipeline:
        from safedeploy.build_steps.sm_pipeline import train_in_pipeline  # needs the model's pipeline requirements

        build = train_in_pipeline(settings, client, data, work_dir, model, progress)
    else:
        build = model.train_model(data.path, work_dir / "model", seed=settings.seed)
    return register_candidate(settings, client, build, data, work_dir, model, progress)


def _account(client: Callable[[str], Any]) -> str:
    return str(client("sts").get_caller_identity()["Account"])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", type=Path, required=True, help="local scratch directory for data and model")
    args = parser.parse_args(argv)
    session = boto3.session.Session()
    if not session.region_name:
        raise SystemExit("error: no AWS region (CodeBuild sets AWS_REGION; set it to run elsewhere)")
    try:
        settings = ReleaseSettings.from_environment(os.environ, session.client("ssm"), region=session.region_name)
        model = ModelPlugin.from_config_file(Path(os.environ.get("MODEL_CONFIG") or CONFIG_FILE))
        result = run(settings, session.client, args.work_dir, model)
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    variables = exported_variables(result.package_arn, result.metrics, list(model.metrics))
    exports = write_exports(variables, args.work_dir / EXPORTS_FILE)
    print(f"registered {result.package_arn} ({registry.PENDING}); exports in {exports}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
