"""The gateway image holds the one S3 layout it writes: its build context (the repository, narrowed by
`.dockerignore`) as CDK stages it carries the gateway and, of `safedeploy`, only modules that need nothing but the
standard library; every `safedeploy` module the gateway imports is among them."""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

from stacks.stage import EnvironmentStage
from tests.unit.architecture.test_import_boundaries import ROOT, imported_modules


def image_context(stage: EnvironmentStage) -> Path:
    """The directory CDK staged as the gateway image's build context, and the Dockerfile it builds with."""
    manifest = next(Path(stage.outdir).glob(f"{stage.serving.artifact_id}.assets.json"))
    (image,) = json.loads(manifest.read_text())["dockerImages"].values()
    assert image["source"]["dockerFile"] == "serving/Dockerfile"
    return (Path(stage.outdir) / image["source"]["directory"]).resolve()


def staged_files(context: Path) -> set[str]:
    return {str(path.relative_to(context)) for path in context.rglob("*") if path.is_file()}


def gateway_imports_of_safedeploy() -> set[str]:
    return {
        module
        for path in (ROOT / "serving" / "gateway").glob("*.py")
        for module in imported_modules(path)
        if module.startswith("safedeploy")
    }


def test_the_image_context_holds_the_gateway_and_the_layout_alone(stages: dict[str, EnvironmentStage]) -> None:
    files = staged_files(image_context(stages["dev"]))
    gateway = {str(path.relative_to(ROOT)) for path in (ROOT / "serving" / "gateway").glob("*.py")}
    assert gateway <= files
    assert {file for file in files if file.startswith("safedeploy/")} == {
        "safedeploy/__init__.py",
        "safedeploy/s3_layout.py",
    }
    assert files - gateway == {
        ".dockerignore",
        "serving/Dockerfile",
        "serving/requirements.txt",
        "safedeploy/__init__.py",
        "safedeploy/s3_layout.py",
    }


def test_what_the_gateway_imports_of_safedeploy_is_in_the_image_and_needs_only_the_standard_library(
    stages: dict[str, EnvironmentStage],
) -> None:
    files = staged_files(image_context(stages["dev"]))
    imported = gateway_imports_of_safedeploy()
    assert imported == {"safedeploy.s3_layout"}
    for module in imported:
        path = f"{module.replace('.', '/')}.py"
        assert path in files
        outside = {
            name
            for name in imported_modules(ROOT / path)
            if name.split(".")[0] not in sys.stdlib_module_names and name != "__future__"
        }
        assert outside == set(), f"{path} imports {outside}: the gateway image has only the standard library"
    dockerfile = (ROOT / "serving" / "Dockerfile").read_text()
    assert "COPY safedeploy/__init__.py safedeploy/s3_layout.py ./safedeploy/" in dockerfile
    assert ast.parse((ROOT / "safedeploy" / "__init__.py").read_text()).body[1:] == []
