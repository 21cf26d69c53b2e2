"""The SageMaker Pipeline path: the definition (SageMaker SDK, ml/requirements-pipeline.txt), its job scripts, and a
release through it played on moto (testbed/moto_pipelines.py), ending in a package with the build path's evidence."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from pathlib import Path
from typing import Any

import pytest

from ml import pipeline_jobs
from ml.build import split
from ml.data import generate, write_csv
from ml.evaluate import headline_metrics
from ml.serving import package_artifact
from safedeploy import registry
from safedeploy.build_steps import train_and_register
from safedeploy.build_steps.model_plugin import ModelPlugin
from safedeploy.build_steps.settings import ReleaseSettings
from safedeploy.build_steps.sm_pipeline import EvaluationOutput, stage_code
from safedeploy.digests import sha256_file, sha256_s3_object
from safedeploy.drift.baseline import Baseline, sha256_digest
from safedeploy.errors import InputError
from safedeploy.parameters import Param
from safedeploy.s3_layout import split_s3_uri
from safedeploy.trust.deployable import require_served_here
from safedeploy.trust.evidence import PackageEvidence
from testbed.aws import REGION, SESSION, in_process_aws
from testbed.moto_pipelines import PlayedExecution, pipeline_runs
from tests.support.configuration import EXAMPLE_MODEL
from tests.support.train_build import BUCKET, COMMIT, GROUP, provisioned_train_build

ROLE = "arn:aws:iam::123456789012:role/demo-dev-sagemaker"


def test_the_jobs_train_and_evaluate_like_a_build(tmp_path: Path) -> None:
    data_dir, model_dir, output = tmp_path / "data", tmp_path / "model", tmp_path / "evaluation"
    write_csv(generate(1200, seed=5), data_dir / "dataset.csv")

    model_file = pipeline_jobs.train_job(data_dir, model_dir, seed=5)
    assert (model_dir / "code" / "inference.py").is_file()
    package_artifact(model_file, tmp_path / "packed")  # SageMaker packs /opt/ml/model as model.tar.gz
    archive = tmp_path / "packed" / "model.tar.gz"
    uri = "s3://demo-dev-artifacts/pipelines/models/job/output/model.tar.gz"
    report = pipeline_jobs.evaluate_job(
        archive.parent,
        data_dir,
        output,
        seed=5,
        model_uri=uri,
        report="evaluation.json",
        scores="s.json",
        record="m.json",
    )

    metrics = headline_metrics(json.loads(report.read_text()))
    assert metrics["auc"] > 0.8
    _, holdout = split(generate(1200, seed=5), seed=5)
    matrix = json.loads(report.read_text())["binary_classification_metrics"]["confusion_matrix"]
    assert sum(matrix[a][b] for a in "01" for b in "01") == holdout.rows
    assert len(json.loads((output / "s.json").read_text())["scores"]) == holdout.rows
    assert json.loads((output / "m.json").read_text()) == {"uri": uri, "sha256": sha256_file(archive)}


def test_a_job_needs_exactly_one_csv(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="exactly one CSV file"):
        pipeline_jobs.train_job(tmp_path, tmp_path / "model", seed=1)


def test_the_evaluation_job_is_told_where_its_data_is_and_what_to_write(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        pipeline_jobs.main(["--job", "evaluate", "--seed", "1", "--report", "evaluation.json"])
    assert "--job evaluate needs --model-dir, --data-dir, --output-dir, --model-uri, --scores, --record" in (
        capsys.readouterr().err
    )


@pytest.fixture
def definition(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[dict[str, Any]]:
    code_dir = stage_code(tmp_path, "ml")
    assert (code_dir / "ml" / "pipeline_jobs.py").is_file() and not list(code_dir.rglob("__pycache__"))
    monkeypatch.setenv("SAGEMAKER_VALIDATE_ROLE", "false")  # what build_pipeline sets, restored after the test
    with in_process_aws(monkeypatch):  # the SDK needs a region at import time
        from ml.pipeline import PipelineSpec, build_pipeline

        SESSION.client("s3").create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        spec = PipelineSpec(
            name="demo-dev-train",
            region=REGION,
            role_arn=ROLE,
            artifacts_bucket=BUCKET,
            work_prefix="pipelines",
            evaluation_uri=f"s3://{BUCKET}/pipelines/evaluation",
            kms_key_arn=f"arn:aws:kms:{REGION}:123456789012:key/example",
            code_dir=code_dir,
            minimums={"auc": 0.75, "f1": 0.6},
        )
        yield json.loads(build_pipeline(spec, SESSION).definition())


def test_the_pipeline_trains_evaluates_and_checks_every_minimum_but_registers_nothing(
    definition: dict[str, Any],
) -> None:
    train, evaluate, condition = definition["Steps"]
    assert [train["Type"], evaluate["Type"], condition["Type"]] == ["Training", "Processing", "Condition"]
    assert evaluate["Name"] == "Evaluate"  # the step whose end the build reads
    arguments = evaluate["Arguments"]["AppSpecification"]["ContainerArguments"]
    # Evaluate is told which object it scores, and records its digest: the build registers those bytes only.
    assert arguments[arguments.index("--model-uri") + 1] == {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    assert arguments[arguments.index("--record") + 1] == "evaluated-model.json"
    assert train["Arguments"]["AlgorithmSpecification"]["TrainingImage"].endswith(
        "sagemaker-scikit-learn:1.9-0-cpu-py3"
    )
    assert evaluate["PropertyFiles"][0]["FilePath"] == "evaluation.json"
    checks = condition["Arguments"]["Conditions"]
    assert [(c["Type"], c["LeftValue"]["Std:JsonGet"]["Path"], c["RightValue"]) for c in checks] == [
        ("GreaterThanOrEqualTo", "binary_classification_metrics.auc.value", 0.75),
        ("GreaterThanOrEqualTo", "binary_classification_metrics.f1.value", 0.6),
    ]
    assert condition["Arguments"]["IfSteps"] == []
    (fail,) = condition["Arguments"]["ElseSteps"]
    assert fail["Type"] == "Fail"
    assert "RegisterModel" not in json.dumps(definition)  # the execution role may not register: the build does


def test_every_job_writes_only_under_the_pipelines_prefix_encrypted(definition: dict[str, Any]) -> None:
    train, evaluate = definition["Steps"][:2]
    (output,) = evaluate["Arguments"]["ProcessingOutputConfig"]["Outputs"]

    assert {"Get": "Execution.PipelineExecutionId"} in output["S3Output"]["S3Uri"]["Std:Join"]["Values"]
    assert output["S3Output"]["S3Uri"]["Std:Join"]["Values"][0] == f"s3://{BUCKET}/pipelines/evaluation"
    assert train["Arguments"]["OutputDataConfig"]["S3OutputPath"] == f"s3://{BUCKET}/pipelines/models"
    assert evaluate["Arguments"]["ProcessingOutputConfig"]["KmsKeyId"].startswith("arn:aws:kms:")
    assert train["Arguments"]["OutputDataConfig"]["KmsKeyId"].startswith("arn:aws:kms:")


# --- a release through the pipeline, played on moto ----------------------------------------------------------------


@pytest.fixture
def pipeline_release(monkeypatch: pytest.MonkeyPatch) -> Iterator[ReleaseSettings]:
    monkeypatch.chdir(Path(__file__).resolve().parents[3])  # the Train build's source root: the tooling bundle
    with in_process_aws(monkeypatch):
        role = {Param.SAGEMAKER_EXECUTION_ROLE_ARN: ROLE}
        yield provisioned_train_build(role, USE_SM_PIPELINE="true", TRAINING_ROWS="1500")


def release(settings: ReleaseSettings, work_dir: Path, model: dict[str, Any]) -> tuple[str, list[PlayedExecution]]:
    lines: list[str] = []
    with pipeline_runs() as played:
        result = train_and_register.run(
            settings, SESSION.client, work_dir, ModelPlugin.from_mapping(model), lines.append
        )
    assert any("Train: Succeeded" in line for line in lines), lines
    return result.package_arn, played


def test_a_pipeline_release_registers_the_evidence_of_a_build_release(
    pipeline_release: ReleaseSettings, tmp_path: Path
) -> None:
    package, (execution,) = release(pipeline_release, tmp_path, EXAMPLE_MODEL)

    sm, s3 = SESSION.client("sagemaker"), SESSION.client("s3")
    assert [step["StepName"] for step in execution.steps] == ["Train", "Evaluate", "CheckQuality"]
    evidence = PackageEvidence.of_group(sm, package, GROUP)  # what approval records and deploy verifies
    (container,) = sm.describe_model_package(ModelPackageName=package)["InferenceSpecification"]["Containers"]
    require_served_here(container["ModelDataUrl"], BUCKET)  # a write-once copy, not the job's own output
    assert sha256_s3_object(s3, container["ModelDataUrl"]) == evidence.model_sha256
    execution_id = execution.arn.rsplit("/", 1)[-1]
    record_key = f"pipelines/evaluation/{execution_id}/evaluated-model.json"
    scored = json.loads(s3.get_object(Bucket=BUCKET, Key=record_key)["Body"].read())
    assert sha256_s3_object(s3, scored["uri"]) == scored["sha256"] == evidence.model_sha256  # what Evaluate scored
    metrics = registry.package_metrics(sm, s3, package)
    assert set(metrics) >= {"auc", "accuracy", "f1"} and metrics["auc"] > 0.8
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"

    source = registry.drift_baseline_source(sm, package)
    assert source is not None
    body = s3.get_object(Bucket=BUCKET, Key=split_s3_uri(source["S3Uri"])[1])["Body"].read()
    assert source["ContentDigest"] == sha256_digest(body)
    baseline = Baseline.from_json(body)
    assert [feature.name for feature in baseline.features] == list(EXAMPLE_MODEL["contract"]["features"])
    assert baseline.rows == 1500  # every training row, as a build-side release's baseline
    assert baseline.score is not None and baseline.score.rows == 375  # the 25 % held out, scored by Evaluate


def test_a_candidate_below_a_minimum_stops_in_the_pipeline_with_its_reason(
    pipeline_release: ReleaseSettings, tmp_path: Path
) -> None:
    strict = {**EXAMPLE_MODEL, "metrics": {**EXAMPLE_MODEL["metrics"], "auc": 0.999}}

    below = rf"Failed: a metric is below its minimum in model\.metrics .* for commit {COMMIT}"
    with pytest.raises(InputError, match=below):
        release(pipeline_release, tmp_path, strict)
    assert SESSION.client("sagemaker").list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"] == []


@pytest.fixture
def evaluation(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[Any, EvaluationOutput]]:
    """An evaluation folder as Evaluate leaves it, and the model it scored."""
    with in_process_aws(monkeypatch):
        s3 = SESSION.client("s3")
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        model = b"the model archive Evaluate scored"
        folder = "pipelines/evaluation/abc"
        s3.put_object(Bucket=BUCKET, Key="pipelines/models/job/output/model.tar.gz", Body=model)
        record = {"uri": f"s3://{BUCKET}/pipelines/models/job/output/model.tar.gz", "sha256": sha256(model).hexdigest()}
        s3.put_object(Bucket=BUCKET, Key=f"{folder}/evaluated-model.json", Body=json.dumps(record).encode())
        s3.put_object(Bucket=BUCKET, Key=f"{folder}/evaluation.json", Body=b"{}")
        ended = datetime.now(UTC) + timedelta(minutes=1)
        yield s3, EvaluationOutput(f"s3://{BUCKET}/{folder}", ended)


def test_what_evaluate_scored_is_read_back_as_it_was(evaluation: tuple[Any, EvaluationOutput], tmp_path: Path) -> None:
    s3, output = evaluation

    artifact, report, scores = output.download(s3, BUCKET, tmp_path)

    assert artifact.read_bytes() == b"the model archive Evaluate scored"
    assert (report.read_bytes(), scores) == (b"{}", None)


def test_a_model_rewritten_after_its_evaluation_is_refused(
    evaluation: tuple[Any, EvaluationOutput], tmp_path: Path
) -> None:
    s3, output = evaluation
    s3.put_object(Bucket=BUCKET, Key="pipelines/models/job/output/model.tar.gz", Body=b"another model")

    with pytest.raises(InputError, match=r"hashes to .*, not to the .* Evaluate scored: it changed after it was"):
        output.download(s3, BUCKET, tmp_path)
    before = EvaluationOutput(output.uri, datetime.now(UTC) - timedelta(hours=1))  # everything written after the end
    with pytest.raises(InputError, match=r"changed after the step Evaluate ended .*: only what was evaluated"):
        before.download(s3, BUCKET, tmp_path)


def test_a_record_naming_a_model_outside_the_pipelines_prefix_is_refused(
    evaluation: tuple[Any, EvaluationOutput], tmp_path: Path
) -> None:
    s3, output = evaluation
    for uri in (f"s3://{BUCKET}/models/abc/1/model.tar.gz", "s3://other-bucket/pipelines/m/model.tar.gz"):
        record = json.dumps({"uri": uri, "sha256": "0" * 64}).encode()
        s3.put_object(Bucket=BUCKET, Key="pipelines/evaluation/abc/evaluated-model.json", Body=record)
        with pytest.raises(InputError, match=r"is outside s3://demo-dev-artifacts/pipelines/: a pipeline's output"):
            output.download(s3, BUCKET, tmp_path)
    s3.put_object(Bucket=BUCKET, Key="pipelines/evaluation/abc/evaluated-model.json", Body=b"[]")
    with pytest.raises(InputError, match=r"is not .* of the model Evaluate scored"):
        output.download(s3, BUCKET, tmp_path)
