"""The SageMaker Pipeline's definition (needs ml/requirements-pipeline.txt) and its job scripts (always)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ml import pipeline_jobs
from ml.build import split
from ml.data import generate, write_csv
from ml.evaluate import headline_metrics
from ml.serving import package_artifact
from safedeploy.build_steps.sm_pipeline import stage_code
from testbed import aws_contracts
from testbed.aws import REGION, SESSION, in_process_aws


def test_the_jobs_train_and_evaluate_like_a_build(tmp_path: Path) -> None:
    data_dir, model_dir, output = tmp_path / "data", tmp_path / "model", tmp_path / "evaluation"
    write_csv(generate(1200, seed=5), data_dir / "dataset.csv")

    model_file = pipeline_jobs.train_job(data_dir, model_dir, seed=5)
    assert (model_dir / "code" / "inference.py").is_file()
    package_artifact(model_file, tmp_path / "packed")  # SageMaker packs /opt/ml/model as model.tar.gz
    report = pipeline_jobs.evaluate_job(tmp_path / "packed", data_dir, output, seed=5)

    metrics = headline_metrics(json.loads(report.read_text()))
    assert metrics["auc"] > 0.8
    _, holdout = split(generate(1200, seed=5), seed=5)
    matrix = json.loads(report.read_text())["binary_classification_metrics"]["confusion_matrix"]
    assert sum(matrix[a][b] for a in "01" for b in "01") == holdout.rows


def test_a_job_needs_exactly_one_csv(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="exactly one CSV file"):
        pipeline_jobs.train_job(tmp_path, tmp_path / "model", seed=1)


@pytest.fixture
def definition(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[dict[str, Any]]:
    code_dir = stage_code(tmp_path, "ml")
    assert (code_dir / "ml" / "pipeline_jobs.py").is_file() and not list(code_dir.rglob("__pycache__"))
    monkeypatch.setenv("SAGEMAKER_VALIDATE_ROLE", "false")  # what build_pipeline sets, restored after the test
    with in_process_aws(monkeypatch):  # the SDK needs a region at import time
        pytest.importorskip("sagemaker.mlops.workflow", reason="ml/requirements-pipeline.txt is not installed")
        from ml.pipeline import PipelineSpec, build_pipeline

        SESSION.client("s3").create_bucket(
            Bucket="demo-dev-artifacts", CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        spec = PipelineSpec(
            name="demo-dev-train",
            region=REGION,
            role_arn="arn:aws:iam::123456789012:role/demo-dev-sagemaker",
            artifacts_bucket="demo-dev-artifacts",
            kms_key_arn=f"arn:aws:kms:{REGION}:123456789012:key/example",
            model_package_group="demo-dev-models",
            code_dir=code_dir,
            instance_types=("ml.t2.medium", "ml.m5.large"),
            transform_instance_types=("ml.m5.large",),
        )
        yield json.loads(build_pipeline(spec, SESSION).definition())


def test_the_pipeline_trains_evaluates_checks_then_registers_for_approval(definition: dict[str, Any]) -> None:
    train, evaluate, condition = definition["Steps"]
    assert [train["Type"], evaluate["Type"], condition["Type"]] == ["Training", "Processing", "Condition"]
    assert train["Arguments"]["AlgorithmSpecification"]["TrainingImage"].endswith(
        "sagemaker-scikit-learn:1.9-0-cpu-py3"
    )
    assert evaluate["PropertyFiles"][0]["FilePath"] == "evaluation.json"
    check = condition["Arguments"]["Conditions"][0]
    assert check["Type"] == "GreaterThanOrEqualTo"
    assert check["LeftValue"]["Std:JsonGet"]["Path"] == "binary_classification_metrics.auc.value"
    assert check["RightValue"] == {"Get": "Parameters.MinAuc"}
    (register,) = condition["Arguments"]["IfSteps"]
    (fail,) = condition["Arguments"]["ElseSteps"]
    assert (register["Type"], fail["Type"]) == ("RegisterModel", "Fail")
    arguments = register["Arguments"]
    assert arguments["ModelApprovalStatus"] == "PendingManualApproval"
    assert arguments["ModelMetrics"]["ModelQuality"]["Statistics"]["ContentType"] == "application/json"
    assert arguments["CustomerMetadataProperties"] == {"commit_id": {"Get": "Parameters.CommitId"}}
    (container,) = arguments["InferenceSpecification"]["Containers"]
    assert container["ModelDataUrl"] == {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    # The step runs CreateModelPackage with these arguments: what the API would refuse fails here, not in AWS.
    create_model_package = SESSION.client("sagemaker").meta.service_model.operation_model("CreateModelPackage")
    assert aws_contracts.validate(arguments, create_model_package) == []


def test_every_execution_writes_its_own_evaluation_report(definition: dict[str, Any]) -> None:
    evaluate = definition["Steps"][1]
    (output,) = evaluate["Arguments"]["ProcessingOutputConfig"]["Outputs"]

    assert {"Get": "Execution.PipelineExecutionId"} in output["S3Output"]["S3Uri"]["Std:Join"]["Values"]
    assert evaluate["Arguments"]["ProcessingOutputConfig"]["KmsKeyId"].startswith("arn:aws:kms:")
