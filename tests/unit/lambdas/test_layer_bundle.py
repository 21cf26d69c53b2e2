"""The real layer, built as `cdk synth` builds it, fits the Lambda runtime's machine and imports every handler.

Fit is read from the binaries (glibc symbol versions, wheel tags), because importing here proves nothing about Amazon
Linux: this machine's glibc is newer. Where the runtime's Python is installed (on PATH or through pyenv), every handler
is also imported from the layer alone with it; elsewhere that test skips.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy
import pytest

from infra.runtime_function import LAMBDAS, RUNTIME, RUNTIME_GLIBC, RUNTIME_PYTHON, build_layer, manylinux_platforms
from tests.support.layer_binaries import glibc_needs, native_library_misfits, wheel_misfits

HANDLERS = sorted(path.parent.name for path in LAMBDAS.glob("*/handler.py"))
MAX_UNZIPPED_MB = 150  # Lambda allows 250 MB for code and layers together; leave room for the handlers
RUNTIME_VERSION = tuple(int(part) for part in RUNTIME_PYTHON.split("."))
AMAZON_LINUX_2_GLIBC = (2, 26)  # python3.11 and older


def runtime_python() -> str | None:
    """The runtime's CPython on this machine, if any: `pythonX.Y` on PATH, else pyenv's install of that version."""
    candidates = [shutil.which(f"python{RUNTIME_PYTHON}")]
    if shutil.which("pyenv"):
        prefix = subprocess.run(["pyenv", "prefix", RUNTIME_PYTHON], capture_output=True, text=True, check=False)
        if prefix.returncode == 0 and prefix.stdout.strip():
            candidates.append(str(Path(prefix.stdout.strip().splitlines()[0]) / "bin" / f"python{RUNTIME_PYTHON}"))
    for candidate in filter(None, candidates):
        probe = [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]
        answer = subprocess.run(probe, capture_output=True, text=True, check=False)  # a pyenv shim may refuse
        if answer.returncode == 0 and answer.stdout.strip() == RUNTIME_PYTHON:
            return candidate
    return None


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("layer")
    build_layer(output)
    return output / "python"


def test_every_function_has_a_handler() -> None:
    assert {"canary_analysis", "traffic_shifter", "quality_gate", "approval_sync", "promote"} <= set(HANDLERS)


def test_the_runtime_is_one_whose_glibc_the_layer_is_built_for() -> None:
    assert RUNTIME.name == f"python{RUNTIME_PYTHON}"
    assert RUNTIME_VERSION >= (3, 12), "python3.11 and older run on Amazon Linux 2 (glibc 2.26)"
    assert manylinux_platforms()[0] == f"manylinux_2_{RUNTIME_GLIBC[1]}_x86_64"
    assert manylinux_platforms()[-1] == "manylinux2014_x86_64"


def test_the_checks_catch_what_the_python311_runtime_could_not_load(tmp_path: Path) -> None:
    """This machine's numpy (cp311, manylinux_2_27/2_28) is the issue itself: too new for Amazon Linux 2."""
    installed = Path(numpy.__file__).parent
    bounded = next(installed.glob("random/_bounded_integers.cpython-*.so"))
    copy = tmp_path / "numpy" / "random" / bounded.name
    copy.parent.mkdir(parents=True)
    shutil.copy(bounded, copy)
    shutil.copytree(next(installed.parent.glob(f"numpy-{numpy.__version__}.dist-info")), tmp_path / "numpy.dist-info")

    assert glibc_needs(copy)["libm.so.6"] >= (2, 27)
    assert any("needs GLIBC_2.27 from libm.so.6" in line for line in native_library_misfits(tmp_path, (2, 26)))
    assert native_library_misfits(tmp_path, RUNTIME_GLIBC) == []
    misfits = wheel_misfits(tmp_path, RUNTIME_VERSION, AMAZON_LINUX_2_GLIBC)
    assert any(line.startswith("numpy.dist-info: tags cp311-cp311-manylinux_2_27") for line in misfits), misfits
    assert any("an extension for CPython 311, not 313" in line for line in misfits), misfits


@pytest.mark.slow
def test_no_native_library_needs_a_newer_glibc_than_the_runtime(layer: Path) -> None:
    assert any(layer.rglob("*.so")), "the layer has native libraries (numpy, wrapt): the check must see them"
    assert native_library_misfits(layer, RUNTIME_GLIBC) == []


@pytest.mark.slow
def test_every_wheel_is_built_for_the_runtime_python(layer: Path) -> None:
    assert wheel_misfits(layer, RUNTIME_VERSION, RUNTIME_GLIBC) == []


@pytest.mark.slow
@pytest.mark.parametrize("name", HANDLERS)
def test_the_handler_imports_from_the_layer_alone_with_the_runtime_python(layer: Path, name: str) -> None:
    """`-S -I`: no site-packages and no environment, as in Lambda where only the runtime, layer and code exist."""
    python = runtime_python()
    if python is None:
        pytest.skip(f"Python {RUNTIME_PYTHON} (the Lambda runtime's) is not installed here")
    script = (
        "import sys; "
        f"sys.path[:0] = [{str(LAMBDAS / name)!r}, {str(layer)!r}]; "
        "import handler; assert callable(handler.handler); "
        "import safedeploy; assert safedeploy.__file__.startswith(sys.path[1]), safedeploy.__file__; "
        "assert 'scipy' not in sys.modules"
    )
    env = {"POWERTOOLS_METRICS_NAMESPACE": "SafeDeploy", "AWS_DEFAULT_REGION": "ap-northeast-2"}
    completed = subprocess.run([python, "-S", "-I", "-c", script], capture_output=True, text=True, env=env, check=False)
    assert completed.returncode == 0, completed.stderr[-2000:]


@pytest.mark.slow
def test_the_layer_fits_lambda_with_room_to_spare(layer: Path) -> None:
    size_mb = sum(path.stat().st_size for path in layer.rglob("*") if path.is_file()) / 1e6
    assert size_mb < MAX_UNZIPPED_MB, f"layer is {size_mb:.0f} MB unzipped"
    assert not (layer / "scipy").exists()
    assert not (layer / "safedeploy" / "cli").exists()
