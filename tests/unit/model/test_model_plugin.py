"""The model is a plug-in: the library imports no model code, and a second model goes through the same contract."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Environment
from aws_cdk.assertions import Template
from moto.core import DEFAULT_ACCOUNT_ID

from safedeploy import registry
from safedeploy.build_steps.exports import exported_variables
from safedeploy.build_steps.model_plugin import ModelPlugin
from safedeploy.build_steps.settings import ReleaseSettings
from safedeploy.build_steps.train_and_register import run
from safedeploy.environment_config import load_config
from safedeploy.errors import ConfigError
from safedeploy.naming import Naming
from stacks.storage_stack import StorageStack
from testbed.aws import REGION, SESSION, in_process_aws
from tests.support.configuration import EXAMPLE_MODEL, two_environments, write_cdk_json
from tests.support.imports import imported_modules, third_party_at_import

ROOT = Path(__file__).resolve().parents[3]
CONTEXT = two_environments()
EXAMPLE_MODELS = ("ml", "eta")  # the two shipped examples: cdk.json names one, the platform imports neither
TOY_MODEL = {
    "train": "tests.support.toy_model:train",
    "sample_data": "tests.support.toy_model:write_sample",
    "serving": {"image_repository": "toy-server", "image_tag": "1.0", "environment": {"THRESHOLD_FILE": "t.json"}},
    "contract": {"features": ["x"], "health_check": [0.5]},
    "metrics": {"auc": 0.8},
}


def test_the_library_imports_no_model_code() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(m for m in imported_modules(path) if m.split(".")[0] in EXAMPLE_MODELS)
        for directory in ("safedeploy", "serving", "stacks", "infra", "lambdas")
        for path in (ROOT / directory).rglob("*.py")
    }
    assert {path: found for path, found in offenders.items() if found} == {}


def test_the_scan_sees_imports_anywhere_in_a_module(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from ml.build import train\n    import ml.data as d\n")
    assert imported_modules(module) == {"ml.build", "ml.data"}


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (None, "model: missing; name the model's entry points"),
        ({**TOY_MODEL, "train": "toy_model.train"}, "model.train: 'toy_model.train' must look like"),
        ({**TOY_MODEL, "evaluate": "x:y"}, "model.evaluate: unknown key"),
        (
            {**TOY_MODEL, "serving": {"image_repository": "toy", "image_tag": "1", "framework": "sklearn"}},
            "model.serving: set either framework and framework_version",
        ),
        ({**TOY_MODEL, "serving": {"framework": "sklearn"}}, "model.serving.framework_version: missing"),
        (
            {**TOY_MODEL, "serving": {"image_repository": "Toy Server", "image_tag": "1"}},
            "model.serving.image_repository: 'Toy Server'",
        ),
    ],
)
def test_a_bad_model_section_stops_synth_in_one_line(model: Any, expected: str) -> None:
    context = copy.deepcopy(CONTEXT)
    context["model"] = model
    with pytest.raises(ConfigError) as raised:
        load_config(context)
    assert str(raised.value).startswith(expected) and "\n" not in str(raised.value), str(raised.value)


def test_a_missing_entry_point_is_named() -> None:
    plugin = ModelPlugin.from_mapping({**TOY_MODEL, "train": "tests.support.toy_model:fit"})
    with pytest.raises(ValueError, match=r"model entry point 'tests.support.toy_model:fit' cannot be loaded"):
        plugin.train_model(Path("x.csv"), Path("out"), seed=1)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with in_process_aws(monkeypatch):
        yield


def test_a_second_model_trains_and_registers_through_the_same_contract(aws: None, tmp_path: Path) -> None:
    key_arn = SESSION.client("kms").create_key()["KeyMetadata"]["Arn"]
    SESSION.client("s3").create_bucket(
        Bucket="toy-dev-artifacts", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    SESSION.client("sagemaker").create_model_package_group(ModelPackageGroupName="toy-dev-models")
    settings = ReleaseSettings(
        project="toy",
        env="dev",
        region=REGION,
        commit_id="0123456789abcdef",
        data_bucket="toy-dev-data",
        artifacts_bucket="toy-dev-artifacts",
        kms_key_arn=key_arn,
        model_package_group="toy-dev-models",
        use_sm_pipeline=False,
        use_feature_store=False,
        external_csv_uri=None,
        rows=400,
        seed=7,
    )
    progress: list[str] = []

    result = run(settings, SESSION.client, tmp_path, ModelPlugin.from_mapping(TOY_MODEL), progress.append)

    sm = SESSION.client("sagemaker")
    assert registry.approval_status(sm, result.package_arn) == registry.PENDING
    (container,) = sm.describe_model_package(ModelPackageName=result.package_arn)["InferenceSpecification"][
        "Containers"
    ]
    assert container["Image"] == f"{DEFAULT_ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/toy-server:1.0"
    assert container["Environment"] == {"THRESHOLD_FILE": "t.json"}
    assert registry.package_metrics(sm, SESSION.client("s3"), result.package_arn) == result.metrics
    assert result.metrics["auc"] > 0.8
    assert exported_variables(result.package_arn, result.metrics, ["auc"]) == {
        "MODEL_PACKAGE_ARN": result.package_arn,
        "MODEL_METRICS": f"auc {result.metrics['auc']:.4f}",
    }
    assert progress[0] == "training data: sample data of tests.support.toy_model:write_sample (400 rows, seed 7)"


def test_a_custom_container_may_be_pulled_by_the_execution_role_only_from_its_repository() -> None:
    context = copy.deepcopy(CONTEXT)
    context["model"] = TOY_MODEL
    config = load_config(context)
    app = App(context={"aws:cdk:bundling-stacks": []})
    stack = StorageStack(
        app,
        "storage",
        naming=Naming("my-mlops", "dev"),
        env_config=config.environments["dev"],
        model=config.model,
        env=Environment(region=REGION),
    )
    pulls = [
        statement["Resource"]
        for policy in Template.from_stack(stack).find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "ecr:BatchGetImage" in statement["Action"]
    ]
    assert any(json.dumps(resource).endswith(':repository/toy-server"]]}') for resource in pulls), pulls


@pytest.mark.parametrize(
    ("what", "key"), [("requirements", "requirements"), ("pipeline-requirements", "pipeline_requirements")]
)
def test_the_train_build_installs_the_files_cdk_json_names(what: str, key: str, tmp_path: Path) -> None:
    """buildspec-dev.yml installs whatever this prints: the file the model section names (the example's exist)."""
    write_cdk_json(tmp_path, CONTEXT)
    result = subprocess.run(
        [sys.executable, "-m", "safedeploy.build_steps.model_plugin", what],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == EXAMPLE_MODEL[key]
    assert (ROOT / result.stdout.strip()).is_file()
    assert f"safedeploy.build_steps.model_plugin {what}" in (ROOT / "buildspec-dev.yml").read_text()


def test_the_train_build_installs_what_its_first_steps_import() -> None:
    """The steps the Train build runs before the model's requirements are installed (the flags check, the model
    plug-in's section) import, at module level, only the library, the standard library and pydantic (with its
    pydantic_core), which the build installs first: CodeBuild's image is not this venv."""
    steps = (ROOT / "safedeploy/build_steps/flags.py", ROOT / "safedeploy/build_steps/model_plugin.py")
    assert third_party_at_import(ROOT, "safedeploy", *steps) == {"pydantic", "pydantic_core"}
    install = (ROOT / "buildspec-dev.yml").read_text()
    assert install.index("--constraint requirements.txt pydantic") < install.index("build_steps.flags")


def test_a_model_without_extra_requirements_installs_nothing(tmp_path: Path) -> None:
    (tmp_path / "cdk.json").write_text(json.dumps({"context": {"model": TOY_MODEL}}))
    result = subprocess.run(
        [sys.executable, "-m", "safedeploy.build_steps.model_plugin", "requirements"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout == "\n"
