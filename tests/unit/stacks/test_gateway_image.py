"""The gateway image holds the one definition of what the gateway shares with the runtime (the S3 layout, the
serving variant's name, the package tag): its build context (the repository, narrowed by `.dockerignore`) as CDK
stages it carries the gateway and exactly the modules of `safedeploy` the gateway imports, which need nothing but
the standard library."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from stacks.stage import EnvironmentStage
from tests.support.imports import imported_modules
from tests.unit.architecture.test_import_boundaries import ROOT

GATEWAY = ROOT / "serving" / "gateway"


def image_context(stage: EnvironmentStage) -> Path:
    """The directory CDK staged as the gateway image's build context (built with `serving/Dockerfile`)."""
    manifest = next(Path(stage.outdir).glob(f"{stage.serving.artifact_id}.assets.json"))
    (image,) = json.loads(manifest.read_text())["dockerImages"].values()
    assert image["source"]["dockerFile"] == "serving/Dockerfile"
    return (Path(stage.outdir) / image["source"]["directory"]).resolve()


def staged_files(context: Path) -> set[str]:
    return {str(path.relative_to(context)) for path in context.rglob("*") if path.is_file()}


def safedeploy_closure() -> set[str]:
    """The files of every `safedeploy` module the gateway imports, and of theirs, with their packages' __init__."""
    found: set[str] = set()
    pending = [path for path in GATEWAY.glob("*.py")]
    while pending:
        for module in imported_modules(pending.pop()):
            if module.split(".")[0] != "safedeploy" or f"{module.replace('.', '/')}.py" in found:
                continue
            parts = module.split(".")
            found |= {"/".join([*parts[:depth], "__init__.py"]) for depth in range(1, len(parts))}
            found.add(f"{module.replace('.', '/')}.py")
            pending.append(ROOT / f"{module.replace('.', '/')}.py")
    return found


def test_the_image_context_holds_the_gateway_and_the_safedeploy_modules_it_imports(
    stages: dict[str, EnvironmentStage],
) -> None:
    files = staged_files(image_context(stages["dev"]))
    gateway = {str(path.relative_to(ROOT)) for path in GATEWAY.glob("*.py")}
    shared = safedeploy_closure()
    assert "safedeploy/s3_layout.py" in shared
    assert files == gateway | shared | {".dockerignore", "serving/Dockerfile", "serving/requirements.txt"}


def test_the_safedeploy_modules_in_the_image_need_only_the_standard_library() -> None:
    for path in sorted(safedeploy_closure()):
        outside = {
            module
            for module in imported_modules(ROOT / path)
            if module.split(".")[0] not in (*sys.stdlib_module_names, "safedeploy")
        }
        assert outside == set(), f"{path} imports {outside}: the gateway image has the standard library only"
