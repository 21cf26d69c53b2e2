"""The deploy tooling bundle and prod's Deploy buildspec: what prod runs is fixed by digest, not by a branch."""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import tarfile
from pathlib import Path

import botocore.session
import pytest

from safedeploy import registry
from safedeploy.build_steps import tooling
from safedeploy.cli import COMMAND_MODULES
from stacks.pipeline.release_buildspec import GATE_SCRIPT, PINNED, pins, release_buildspec
from tests.support.imports import third_party_at_import

ROOT = Path(__file__).resolve().parents[3]


def checkout(tmp_path: Path) -> Path:
    target = tmp_path / "checkout"
    shutil.copytree(ROOT / "safedeploy", target / "safedeploy")
    for name in tooling.TOOLING_FILES:
        shutil.copy(ROOT / name, target / name)
    return target


def test_the_bundle_depends_only_on_the_files(tmp_path: Path) -> None:
    source = checkout(tmp_path)
    (source / "safedeploy" / "__pycache__").mkdir(exist_ok=True)
    (source / "safedeploy" / "__pycache__" / "junk.pyc").write_bytes(b"compiled")
    for path in source.rglob("*.py"):
        path.touch()  # new modification times, same contents

    assert tooling.bundle_bytes(source) == tooling.bundle_bytes(ROOT)

    (source / "safedeploy" / "deploy_hook.py").write_text("print('one more file')\n")
    assert hashlib.sha256(tooling.bundle_bytes(source)).digest() != hashlib.sha256(tooling.bundle_bytes(ROOT)).digest()


def test_the_bundle_holds_the_library_its_pins_and_the_deploy_buildspec() -> None:
    with tarfile.open(fileobj=io.BytesIO(tooling.bundle_bytes(ROOT)), mode="r:gz") as bundle:
        names = bundle.getnames()
        assert {member.mtime for member in bundle.getmembers()} == {0}
    assert {"pyproject.toml", "requirements.txt", "buildspec-deploy.yml", "safedeploy/cli/__init__.py"} <= set(names)
    assert "safedeploy/build_steps/tooling_gate.py" in names
    assert not [name for name in names if "__pycache__" in name]


def test_a_checkout_without_the_tooling_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"holds no pyproject.toml, requirements.txt, buildspec-deploy.yml"):
        tooling.tooling_paths(tmp_path)


def test_provenance_fits_the_registry_metadata_limits() -> None:
    """CustomerMetadataProperties values: 1-256 characters of the pattern botocore's model carries."""
    shape = botocore.session.get_session().get_service_model("sagemaker").shape_for("CustomerMetadataMap")
    value_pattern = shape.value.metadata["pattern"].replace(r"\p{L}", "a-zA-Z").replace(r"\p{Z}", " ")
    value_pattern = value_pattern.replace(r"\p{N}", "0-9").split("$")[0]
    uri = "s3://my-mlops-dev-storage-artifactse1c0a1b2-abcdefghijkl/tooling/0123456789ab/1234/tooling.tar.gz"
    for value in ("a" * 64, uri):
        assert len(value) <= shape.value.metadata["max"]
        assert re.fullmatch(value_pattern, value), value
    assert len(registry.PROVENANCE_PROPERTIES) + 1 + 5 <= shape.metadata["max"]  # + commit + headline metrics


def test_prod_deploy_pins_boto3_as_the_project_does_and_runs_the_gate_first() -> None:
    spec = release_buildspec()
    assert spec["phases"]["install"]["commands"] == [f"pip install --quiet {' '.join(pins())}"]
    requirements = (ROOT / "requirements.txt").read_text()
    assert all(pin in requirements.splitlines() for pin in pins())
    (script,) = spec["phases"]["build"]["commands"]
    assert GATE_SCRIPT.read_text() in script
    assert script.index("GATE\n") < script.index("python3 -m safedeploy deploy")
    assert '--release-file "$CODEBUILD_SRC_DIR/release.json" --source-env "$SOURCE_ENV"' in script
    assert "buildspec-deploy.yml" not in script and "CODEBUILD_SRC_DIR_" not in script


def test_both_deploy_builds_install_what_the_cli_imports() -> None:
    """`safedeploy deploy` and `smoke-test` run in CodeBuild's image, not this venv: every third-party package the
    CLI imports at module level (following the library's own modules) is one the deploy builds install."""
    starts = [ROOT / "safedeploy/cli/__init__.py", *(ROOT / f"safedeploy/cli/{name}.py" for name in COMMAND_MODULES)]
    needed = third_party_at_import(ROOT, "safedeploy", *starts) - {"pydantic_core"}  # pydantic's own
    assert needed == set(PINNED)
    dev_build = (ROOT / "buildspec-deploy.yml").read_text()
    assert f"pip install --constraint requirements.txt {' '.join(PINNED)}" in dev_build
    assert spec_installs(release_buildspec()) == {pin.split("==")[0] for pin in pins()} == set(PINNED)


def spec_installs(spec: dict) -> set[str]:
    (command,) = spec["phases"]["install"]["commands"]
    return {argument.split("==")[0] for argument in command.split()[3:]}
