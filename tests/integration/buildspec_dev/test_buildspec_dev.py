"""buildspec-dev.yml run as CodeBuild would run it, against a moto server on 127.0.0.1.

The install phase needs the network (pip); the build and post_build commands run in one bash shell, as CodeBuild
runs them, with the variables the Train project sets. Whatever `env.parameter-store` names, the test resolves from
moto's SSM, since CodeBuild resolves those before the first command. The commands act as the Train project's role:
every AWS call they make is decided against the synthesized templates of `demo-dev`, and a denied one fails the test.
The checkout's cdk.json is the tests' own configuration (tests/support/configuration.py) with the example model.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ml import serving
from safedeploy import registry, s3_layout
from safedeploy.build_steps import tooling
from safedeploy.build_steps.exports import METRICS_VARIABLE, PACKAGE_VARIABLE
from safedeploy.build_steps.model_plugin import ModelPlugin
from safedeploy.digests import sha256_s3_object
from safedeploy.naming import Naming
from safedeploy.parameters import Param, parameter_name
from safedeploy.trust.evidence import PackageEvidence
from testbed import aws_contracts, iam_enforcement, iam_world
from testbed.aws import REGION, MotoServer, moto_server
from testbed.iam_eval import ACCOUNT, PolicyWorld
from tests.support.configuration import two_environments, write_cdk_json

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
BUILDSPEC = ROOT / "buildspec-dev.yml"
PROJECT, ENV = "demo", "dev"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
EXPORTED = (PACKAGE_VARIABLE, METRICS_VARIABLE)


@pytest.fixture(scope="module")
def server() -> Iterator[MotoServer]:
    with moto_server() as running:
        yield running


@pytest.fixture
def world(server: MotoServer, tmp_path: Path) -> Iterator[dict[str, str]]:
    """What the storage stack publishes: buckets, key, group and their SSM parameters; the build's calls decided
    against the templates with these resources bound in."""
    server.reset()
    key_arn = server.client("kms").create_key()["KeyMetadata"]["Arn"]
    values = {
        Param.DATA_BUCKET: f"{PROJECT}-{ENV}-data",
        Param.ARTIFACTS_BUCKET: f"{PROJECT}-{ENV}-artifacts",
        Param.KMS_KEY_ARN: key_arn,
        Param.MODEL_PACKAGE_GROUP: f"{PROJECT}-{ENV}-models",
    }
    s3 = server.client("s3")
    for bucket in (values[Param.DATA_BUCKET], values[Param.ARTIFACTS_BUCKET]):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    server.client("sagemaker").create_model_package_group(ModelPackageGroupName=values[Param.MODEL_PACKAGE_GROUP])
    for key, value in values.items():
        server.client("ssm").put_parameter(Name=parameter_name(PROJECT, ENV, key), Value=value, Type="String")
    with iam_enforcement.policies_in_force([policies(values)], tmp_path):
        yield {key.value: value for key, value in values.items()}


def policies(values: dict[Param, str]) -> PolicyWorld:
    bound = (Param.DATA_BUCKET, Param.ARTIFACTS_BUCKET, Param.KMS_KEY_ARN)
    bindings = {parameter_name(PROJECT, ENV, key): values[key] for key in bound}
    return iam_world.policy_world(two_environments(PROJECT), REGION, bindings)


def buildspec() -> dict[str, Any]:
    return yaml.safe_load(BUILDSPEC.read_text())


def codebuild_environment(server: MotoServer, source_dir: Path, **overrides: str) -> dict[str, str]:
    spec_env = buildspec().get("env", {})
    ssm = server.client("ssm")
    resolved = {
        name: ssm.get_parameter(Name=parameter)["Parameter"]["Value"]
        for name, parameter in spec_env.get("parameter-store", {}).items()
    }
    return {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(source_dir),
        **server.environment(),
        "AWS_REGION": REGION,
        "PROJECT": PROJECT,
        "ENV": ENV,
        "USE_SM_PIPELINE": "false",
        "USE_FEATURE_STORE": "false",
        "TRAINING_ROWS": "2000",
        "CODEBUILD_SRC_DIR": str(source_dir),
        "CODEBUILD_RESOLVED_SOURCE_VERSION": COMMIT,
        "CODEBUILD_BUILD_NUMBER": "7",
        "CODEBUILD_BUILD_SUCCEEDING": "1",
        **iam_enforcement.as_codebuild_project(f"{PROJECT}-{ENV}-train"),
        **{name: str(value) for name, value in spec_env.get("variables", {}).items()},
        **resolved,
        **overrides,
    }


def run_phases(environment: dict[str, str], source_dir: Path) -> subprocess.CompletedProcess[str]:
    """build then post_build in one shell, stopping at the first failing command; prints the exported variables."""
    phases = buildspec()["phases"]
    commands = [command for phase in ("build", "post_build") for command in phases[phase]["commands"]]
    report = [f'echo "EXPORTED {name}=${{{name}}}"' for name in buildspec()["env"]["exported-variables"]]
    return subprocess.run(
        ["bash", "-e", "-c", "\n".join([*commands, *report])],
        cwd=source_dir,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def source_dir(tmp_path: Path) -> Path:
    """A checkout as CodeBuild sees it: the model's code package (cdk.json names it) and the deploy tooling at the
    source root."""
    context = two_environments(PROJECT)
    model = ModelPlugin.from_mapping(context["model"])
    for tree in (model.code_package, "safedeploy"):
        shutil.copytree(ROOT / tree, tmp_path / tree, ignore=shutil.ignore_patterns("__pycache__"))
    for name in tooling.TOOLING_FILES:
        shutil.copy(ROOT / name, tmp_path / name)
    write_cdk_json(tmp_path, context)  # cdk.json names the model's entry points
    return tmp_path


def test_build_registers_a_pending_package_with_metrics_and_exports_them(
    server: MotoServer, world: dict[str, str], source_dir: Path
) -> None:
    result = run_phases(codebuild_environment(server, source_dir), source_dir)
    assert result.returncode == 0, result.stdout + result.stderr

    exported = dict(re.findall(r"^EXPORTED (\w+)=(.*)$", result.stdout, flags=re.MULTILINE))
    sm, s3 = server.client("sagemaker"), server.client("s3")
    packages = sm.list_model_packages(ModelPackageGroupName=world["model-package-group"])["ModelPackageSummaryList"]
    assert [package["ModelPackageArn"] for package in packages] == [exported[PACKAGE_VARIABLE]]
    assert registry.approval_status(sm, exported[PACKAGE_VARIABLE]) == registry.PENDING

    metrics = registry.package_metrics(sm, s3, exported[PACKAGE_VARIABLE])
    assert metrics["auc"] > 0.75
    # The headline metrics model.metrics names, in its order, as the approval message shows them.
    assert exported[METRICS_VARIABLE] == ", ".join(f"{name} {metrics[name]:.4f}" for name in ("auc", "accuracy", "f1"))

    description = sm.describe_model_package(ModelPackageName=exported[PACKAGE_VARIABLE])
    assert description["CustomerMetadataProperties"]["commit_id"] == COMMIT
    evidence = PackageEvidence.describe(sm, exported[PACKAGE_VARIABLE])
    assert sha256_s3_object(s3, evidence.model_data_url) == evidence.model_sha256
    assert sha256_s3_object(s3, evidence.evaluation_uri) == evidence.evaluation_sha256
    # The tooling bundle is reproducible: the commit's files alone give its digest.
    assert sha256_s3_object(s3, evidence.tooling_uri) == hashlib.sha256(tooling.bundle_bytes(ROOT)).hexdigest()
    assert evidence.tooling_sha256 == hashlib.sha256(tooling.bundle_bytes(ROOT)).hexdigest()
    container = description["InferenceSpecification"]["Containers"][0]
    assert re.fullmatch(
        rf"\d{{12}}\.dkr\.ecr\.{REGION}\.amazonaws\.com/sagemaker-scikit-learn:{serving.FRAMEWORK_VERSION}-cpu-py3",
        container["Image"],
    )
    assert container["Environment"] == serving.ENVIRONMENT
    for uri in (container["ModelDataUrl"], description["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]):
        bucket, key = s3_layout.split_s3_uri(uri)
        assert bucket == world["artifacts-bucket"]
        head = s3.head_object(Bucket=bucket, Key=key)
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["SSEKMSKeyId"] == world["kms-key-arn"]


def test_a_mistyped_switch_fails_the_build_naming_the_variable(
    server: MotoServer, world: dict[str, str], source_dir: Path
) -> None:
    result = run_phases(codebuild_environment(server, source_dir, USE_FEATURE_STORE="ture"), source_dir)

    assert result.returncode != 0
    assert "USE_FEATURE_STORE must be 'true' or 'false', got 'ture'" in result.stderr
    assert not server.client("sagemaker").list_model_packages(ModelPackageGroupName=world["model-package-group"])[
        "ModelPackageSummaryList"
    ]


def test_buildspec_exports_what_the_pipeline_reads() -> None:
    assert buildspec()["env"]["exported-variables"] == list(EXPORTED)


ACCOUNT_ID = re.compile(r"(?<!\d)\d{12}(?!\d)")
ARN = re.compile(r"(?<![\w$])arn:")
# A bucket written into a command: an s3:// URI or a --bucket/Bucket= argument whose name is not a variable.
BUCKET_LITERAL = re.compile(r"s3://(?![$]|\{)|(--bucket|Bucket=)\s*(?![\"']?[$])[\"']?[a-z0-9]", re.IGNORECASE)


@pytest.mark.parametrize("name", ["buildspec-dev.yml", "buildspec-deploy.yml"])
def test_buildspecs_hold_no_account_arn_or_bucket_literal(name: str) -> None:
    path = ROOT / name
    if not path.exists():
        pytest.skip(f"{name} is not written yet")
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        assert not literals(line), f"{name}:{number} holds a literal {', '.join(literals(line))}: {line.strip()}"


def literals(line: str) -> list[str]:
    patterns = {"account id": ACCOUNT_ID, "ARN": ARN, "bucket name": BUCKET_LITERAL}
    return [what for what, pattern in patterns.items() if pattern.search(line)]


@pytest.mark.parametrize(
    ("line", "found"),
    [
        ("- aws s3 cp model.tar.gz s3://my-mlops-dev-artifacts/models/", ["bucket name"]),
        ("- aws s3api head-object --bucket my-mlops-dev-data --key x", ["bucket name"]),
        ("ROLE: arn:aws:iam::123456789012:role/train", ["account id", "ARN"]),
        ("- aws s3 cp model.tar.gz s3://${ARTIFACTS_BUCKET}/models/", []),
        ('- aws s3api head-object --bucket "$DATA_BUCKET" --key x', []),
        ('- echo "${MODEL_PACKAGE_ARN:-none}"', []),
    ],
)
def test_the_literal_scan_finds_what_it_is_for(line: str, found: list[str]) -> None:
    assert literals(line) == found


def test_the_build_acts_as_the_train_role_and_a_denied_call_fails_it(
    server: MotoServer, world: dict[str, str], source_dir: Path, tmp_path: Path
) -> None:
    """The Train project's role without ssm:GetParameter: the build's first call (its settings) is refused."""
    values = {Param(key): value for key, value in world.items()}
    complete = policies(values)
    role = iam_world.codebuild_role(complete, Naming(PROJECT, ENV), "train")
    without = iam_world.without_action(complete, role, "ssm:GetParameter")
    (tmp_path / "without").mkdir()
    with iam_enforcement.policies_in_force([without], tmp_path / "without"):
        result = run_phases(codebuild_environment(server, source_dir), source_dir)
    denials = aws_contracts.subprocess_violations()  # taken here, so that they do not fail this test

    assert result.returncode != 0, result.stdout + result.stderr
    request = f"{role} ssm:GetParameter on arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{PROJECT}/{ENV}/"
    assert denials and all(f"IAM: ssm GetParameter: {request}" in line for line in denials), denials
    assert not server.client("sagemaker").list_model_packages(ModelPackageGroupName=world["model-package-group"])[
        "ModelPackageSummaryList"
    ]
