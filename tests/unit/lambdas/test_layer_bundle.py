"""The real layer, built as `cdk synth` builds it, imports every handler with nothing else on the path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from infra.runtime_function import LAMBDAS, build_layer

pytestmark = pytest.mark.slow
HANDLERS = sorted(path.parent.name for path in LAMBDAS.glob("*/handler.py"))
MAX_UNZIPPED_MB = 150  # Lambda allows 250 MB for code and layers together; leave room for the handlers


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("layer")
    build_layer(output)
    return output / "python"


def test_every_function_has_a_handler() -> None:
    assert {"canary_analysis", "traffic_shifter", "quality_gate", "approval_sync", "promote"} <= set(HANDLERS)


@pytest.mark.parametrize("name", HANDLERS)
def test_the_handler_imports_from_the_layer_alone(layer: Path, name: str) -> None:
    """`-S -I`: no site-packages and no environment, as in Lambda where only the runtime, layer and code exist."""
    script = (
        "import sys; "
        f"sys.path[:0] = [{str(LAMBDAS / name)!r}, {str(layer)!r}]; "
        "import handler; assert callable(handler.handler); "
        "import safedeploy; assert safedeploy.__file__.startswith(sys.path[1]), safedeploy.__file__; "
        "assert 'scipy' not in sys.modules"
    )
    env = {"POWERTOOLS_METRICS_NAMESPACE": "SafeDeploy", "AWS_DEFAULT_REGION": "ap-northeast-2"}
    completed = subprocess.run(
        [sys.executable, "-S", "-I", "-c", script], capture_output=True, text=True, env=env, check=False
    )
    assert completed.returncode == 0, completed.stderr[-2000:]


def test_the_layer_fits_lambda_with_room_to_spare(layer: Path) -> None:
    size_mb = sum(path.stat().st_size for path in layer.rglob("*") if path.is_file()) / 1e6
    assert size_mb < MAX_UNZIPPED_MB, f"layer is {size_mb:.0f} MB unzipped"
    assert not (layer / "scipy").exists()
    assert not (layer / "safedeploy" / "cli").exists()
