"""Python Lambda functions over the `safedeploy` runtime library, bundled without Docker.

All handlers share one layer: `safedeploy` plus `lambdas/requirements.txt` (numpy, pydantic, Powertools; no scipy,
which would not fit Lambda's size limit), installed from wheels for the Lambda runtime's machine: its Python (cp313)
and manylinux tags no newer than its glibc. python3.13 runs on Amazon Linux 2023 (glibc 2.34); python3.11 runs on
Amazon Linux 2 (glibc 2.26), which numpy 2.3+ wheels (manylinux_2_27/2_28) do not fit. Local development stays on
Python 3.11: the layer is checked by reading its binaries (tests/unit/lambdas/test_layer_bundle.py), not by importing
it here.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, Duration, ILocalBundling
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.grants import acknowledge_cdk_grants
from infra.log_encryption import LogGroupKey
from infra.nag import acknowledge
from safedeploy.lambda_runtime import LAMBDA_PYTHON, LAMBDA_RUNTIME
from safedeploy.naming import Function, Naming

ROOT = Path(__file__).resolve().parents[1]
LAMBDAS = ROOT / "lambdas"
RUNTIME = lambda_.Runtime.PYTHON_3_13
RUNTIME_PYTHON = LAMBDA_PYTHON
assert RUNTIME.name == LAMBDA_RUNTIME, "the layer's runtime is named once, in safedeploy/lambda_runtime.py"
RUNTIME_GLIBC = (2, 34)  # Amazon Linux 2023, the OS of Lambda's python3.12 and python3.13 runtimes
LAYER_REQUIREMENTS = LAMBDAS / "requirements.txt"


def manylinux_platforms() -> list[str]:
    """Every manylinux tag the runtime's glibc runs, newest first (pip expands only the legacy manylinux2014 alias)."""
    major, newest = RUNTIME_GLIBC
    return [*(f"manylinux_{major}_{minor}_x86_64" for minor in range(newest, 16, -1)), "manylinux2014_x86_64"]


def build_layer(output_dir: Path) -> None:
    """Install the layer's contents into `output_dir/python`: wheels for Lambda's Linux, then the library itself."""
    target = output_dir / "python"
    subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            *(argument for platform in manylinux_platforms() for argument in ("--platform", platform)),
            "--only-binary=:all:", "--implementation", "cp",
            "--python-version", RUNTIME_PYTHON, "--target", str(target), "-r", str(LAYER_REQUIREMENTS),
        ],
        check=True,
    )  # fmt: skip
    shutil.copytree(ROOT / "safedeploy", target / "safedeploy", ignore=shutil.ignore_patterns("__pycache__", "cli"))
    for cache in target.rglob("__pycache__"):
        shutil.rmtree(cache)
    for tests_dir in [*target.glob("numpy/**/tests"), *target.glob("numpy/**/testing/_private")]:
        shutil.rmtree(tests_dir, ignore_errors=True)


def layer_inputs_hash() -> str:
    """Hash of what goes into the layer, so the layer changes exactly when the library or its pins change."""
    digest = hashlib.sha256(LAYER_REQUIREMENTS.read_bytes())
    for path in sorted((ROOT / "safedeploy").rglob("*.py")):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@jsii.implements(ILocalBundling)
class _LocalLayerBundling:
    def try_bundle(self, output_dir: str, *, image: DockerImage, **_: object) -> bool:
        build_layer(Path(output_dir))
        return True


class RuntimeLayer(Construct):
    """One layer per stack: the runtime library and its dependencies."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.layer = lambda_.LayerVersion(
            self,
            "Layer",
            code=lambda_.Code.from_asset(
                str(LAMBDAS),
                asset_hash_type=AssetHashType.CUSTOM,
                asset_hash=layer_inputs_hash(),
                bundling=BundlingOptions(image=RUNTIME.bundling_image, local=_LocalLayerBundling()),
            ),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[lambda_.Architecture.X86_64],
            description="safedeploy runtime library with numpy and Powertools for AWS Lambda",
        )


class RuntimeFunction(Construct):
    """A thin handler from `lambdas/<folder>/handler.py` with its own encrypted log group and a role it alone holds.

    Function and role are both named `Naming.function`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        naming: Naming,
        function: Function,
        layer: RuntimeLayer,
        log_key: LogGroupKey,
        description: str,
        environment: dict[str, str] | None = None,
        timeout_seconds: int = 60,
        memory_size: int = 512,
    ) -> None:
        super().__init__(scope, construct_id)
        function_name = naming.function(function)
        self.log_group = log_key.log_group(self, "Logs", log_group_name=f"/aws/lambda/{function_name}")
        # Named like the function, so a bucket policy in the storage stack can name the writer of a record prefix
        # without a reference into this stack (which would be a cycle).
        self.role = iam.Role(
            self,
            "Role",
            role_name=function_name,
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Runs {function_name}",
        )
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=function_name,
            runtime=RUNTIME,
            architecture=lambda_.Architecture.X86_64,
            handler="handler.handler",
            code=lambda_.Code.from_asset(str(LAMBDAS / function.folder), exclude=["__pycache__"]),
            layers=[layer.layer],
            role=self.role,
            log_group=self.log_group,
            timeout=Duration.seconds(timeout_seconds),
            memory_size=memory_size,
            tracing=lambda_.Tracing.ACTIVE,
            description=description,
            environment={
                "POWERTOOLS_SERVICE_NAME": function_name,
                "POWERTOOLS_METRICS_NAMESPACE": "SafeDeploy",
                "SAFEDEPLOY_PROJECT": naming.project,
                "SAFEDEPLOY_ENV": naming.env,
                **(environment or {}),
            },
        )
        self.log_group.grant_write(self.role)
        acknowledge(
            self,
            "L1",
            "The runtime is pinned to the one the layer's wheels are built and binary-checked for (python3.13 on "
            "Amazon Linux 2023); moving both together is one change in infra/runtime_function.py.",
        )
        # Active tracing made CDK grant X-Ray's writes; the log group, writing its streams.
        acknowledge_cdk_grants(
            self.role,
            "X-Ray's PutTraceSegments/PutTelemetryRecords accept no resource; log streams are created inside this "
            "function's own log group.",
        )
