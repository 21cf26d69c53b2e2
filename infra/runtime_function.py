"""Python Lambda functions over the `safedeploy` runtime library, bundled without Docker.

All handlers share one layer: `safedeploy` plus `lambdas/requirements.txt` (numpy, pydantic, Powertools; no scipy,
which would not fit Lambda's size limit), installed from wheels for the Lambda runtime's machine: its Python (cp313)
and manylinux tags no newer than its glibc. python3.13 runs on Amazon Linux 2023 (glibc 2.34); python3.11 runs on
Amazon Linux 2 (glibc 2.26), which numpy 2.3+ wheels (manylinux_2_27/2_28) do not fit. Local development stays on
Python 3.11: the layer is checked by reading its binaries (tests/unit/lambdas/test_layer_bundle.py), not by importing
it here.

Installing those wheels is the only step of synth that needs the network. The installed tree is kept in
`.cache/lambda-layer/<dependencies_key()>/` and reused until the pins or the runtime change; the library is copied in
afresh on every synth, so a change to `safedeploy` needs no network. Without the package index the install fails
with one line (`BuildError`) that says so.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, Duration, ILocalBundling
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.grants import acknowledge_cdk_grants
from infra.log_encryption import LogGroupKey
from infra.nag import acknowledge
from safedeploy.errors import BuildError
from safedeploy.lambda_runtime import LAMBDA_PYTHON, LAMBDA_RUNTIME
from safedeploy.naming import Function, Naming

ROOT = Path(__file__).resolve().parents[1]
LAMBDAS = ROOT / "lambdas"
RUNTIME = lambda_.Runtime.PYTHON_3_13
RUNTIME_PYTHON = LAMBDA_PYTHON
assert RUNTIME.name == LAMBDA_RUNTIME, "the layer's runtime is named once, in safedeploy/lambda_runtime.py"
RUNTIME_GLIBC = (2, 34)  # Amazon Linux 2023, the OS of Lambda's python3.12 and python3.13 runtimes
LAYER_REQUIREMENTS = LAMBDAS / "requirements.txt"
LIBRARY = ROOT / "safedeploy"
# Left out of the layer: the CLI runs on people's machines and in CodeBuild, never in a Lambda.
LIBRARY_LEFT_OUT = frozenset({"__pycache__", "cli"})
# The installed dependency tree, one directory per `dependencies_key()`, kept between synths (git-ignored): synth
# starts from an empty cdk.out, so CDK's own asset cache never holds it.
LAYER_CACHE = ROOT / ".cache" / "lambda-layer"


def manylinux_platforms() -> list[str]:
    """Every manylinux tag the runtime's glibc runs, newest first (pip expands only the legacy manylinux2014 alias)."""
    major, newest = RUNTIME_GLIBC
    return [*(f"manylinux_{major}_{minor}_x86_64" for minor in range(newest, 16, -1)), "manylinux2014_x86_64"]


def wheel_arguments() -> list[str]:
    """pip's arguments that choose wheels for the runtime's machine rather than this one."""
    return [
        *(argument for platform in manylinux_platforms() for argument in ("--platform", platform)),
        "--only-binary=:all:", "--implementation", "cp", "--python-version", RUNTIME_PYTHON,
    ]  # fmt: skip


def dependencies_key() -> str:
    """What the layer's dependency tree is made from: the pins and the machine their wheels are chosen for."""
    digest = hashlib.sha256(LAYER_REQUIREMENTS.read_bytes())
    digest.update(" ".join(wheel_arguments()).encode())
    return digest.hexdigest()


def library_files() -> list[Path]:
    """The library's files the layer carries, relative to LIBRARY: all but the CLI and bytecode caches."""
    return sorted(
        path.relative_to(LIBRARY)
        for path in LIBRARY.rglob("*")
        if path.is_file() and not LIBRARY_LEFT_OUT.intersection(path.relative_to(LIBRARY).parts)
    )


def build_layer(output_dir: Path, *, cache: Path | None = None) -> None:
    """The layer's contents in `output_dir/python`: the dependency tree kept in `cache` (default LAYER_CACHE;
    installed there first when its pins or runtime changed: the one step that needs the network), then the library
    itself, read afresh."""
    target = output_dir / "python"
    shutil.copytree(cached_dependencies(cache or LAYER_CACHE), target, dirs_exist_ok=True)
    for relative in library_files():
        destination = target / "safedeploy" / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(LIBRARY / relative, destination)


def cached_dependencies(cache: Path) -> Path:
    """`cache/<dependencies_key()>`, installed first if absent. It appears whole or not at all: the tree is installed
    into a temporary directory beside it and renamed into place, so an interrupted or failed install leaves nothing
    a later synth would take for a finished one."""
    entry = cache / dependencies_key()
    if entry.is_dir():
        return entry
    cache.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{entry.name[:12]}-", dir=cache))
    try:
        building.chmod(0o755)  # mkdtemp's 0700 would be copied into the layer, unreadable to the Lambda runtime
        install_dependencies(building, kept_in=cache)
        try:
            building.rename(entry)
        except OSError:  # another synth finished the same tree first
            if not entry.is_dir():
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return entry


def install_dependencies(target: Path, *, kept_in: Path) -> None:
    """`lambdas/requirements.txt` from wheels for Lambda's Linux into `target` (to be kept in `kept_in`); a failure
    is one line."""
    print(
        f"Lambda layer: installing the wheels of {_shown(LAYER_REQUIREMENTS)} for {RUNTIME.name} from the package "
        f"index into {_shown(kept_in)}/ (once per change of those pins)",
        file=sys.stderr,
    )
    # --no-color: the CDK CLI sets FORCE_COLOR (0 when piped), which pip reads as a wish for colour codes.
    pip = [
        sys.executable, "-m", "pip", "install", "--quiet", "--no-color", "--disable-pip-version-check",
        *wheel_arguments(), "--target", str(target), "-r", str(LAYER_REQUIREMENTS),
    ]  # fmt: skip
    result = subprocess.run(pip, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BuildError(pip_failure(result.stderr, kept_in))
    for bytecode in target.rglob("__pycache__"):  # this machine's Python compiled them; the runtime's is another
        shutil.rmtree(bytecode)
    for tests_dir in [*target.glob("numpy/**/tests"), *target.glob("numpy/**/testing/_private")]:
        shutil.rmtree(tests_dir, ignore_errors=True)


def pip_failure(stderr: str, kept_in: Path) -> str:
    """pip's failure as one line: what needs the network and why, and pip's last word."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    last = lines[-1].removeprefix("ERROR: ") if lines else "pip printed nothing"
    unreachable = any(line.startswith("WARNING: Retrying") for line in lines)  # the index did not answer
    return (
        f"Lambda layer: its wheels for {RUNTIME.name} (manylinux x86_64) are installed from the package index once "
        f"per change of {_shown(LAYER_REQUIREMENTS)}, then kept in {_shown(kept_in)}/; "
        f"{'pip could not reach the package index' if unreachable else 'pip failed'}: {last}"
    )


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def layer_inputs_hash() -> str:
    """Hash of what goes into the layer (the dependency tree's key and the library's files it carries), so the layer
    changes exactly when the library, its pins or the runtime change."""
    digest = hashlib.sha256(dependencies_key().encode())
    for relative in library_files():
        digest.update(str(relative).encode())
        digest.update((LIBRARY / relative).read_bytes())
    return digest.hexdigest()


@jsii.implements(ILocalBundling)
class _LocalLayerBundling:
    """Builds the layer in this process. A BuildError is kept: jsii hands the CDK only its text, and the CDK raises
    a RuntimeError of its own in its place (with the asset's path and a stack)."""

    def __init__(self) -> None:
        self.failure: BuildError | None = None

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_: object) -> bool:
        try:
            build_layer(Path(output_dir))
        except BuildError as error:
            self.failure = error
            raise
        return True


class RuntimeLayer(Construct):
    """One layer per stack: the runtime library and its dependencies."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        bundling = _LocalLayerBundling()
        try:
            self.layer = lambda_.LayerVersion(
                self,
                "Layer",
                code=lambda_.Code.from_asset(
                    str(LAMBDAS),
                    asset_hash_type=AssetHashType.CUSTOM,
                    asset_hash=layer_inputs_hash(),
                    bundling=BundlingOptions(image=RUNTIME.bundling_image, local=bundling),
                ),
                compatible_runtimes=[RUNTIME],
                compatible_architectures=[lambda_.Architecture.X86_64],
                description="safedeploy runtime library with numpy and Powertools for AWS Lambda",
            )
        except RuntimeError:
            if bundling.failure is not None:
                raise bundling.failure from None
            raise


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
