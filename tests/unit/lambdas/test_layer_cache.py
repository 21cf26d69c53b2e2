"""Synth is offline once the layer's wheels are installed: the installed tree is kept per `dependencies_key()` and
copied on every later synth without pip, the library is read afresh each time, a change of the pins installs again,
and an install that fails or is interrupted leaves no tree behind and is one line, not a traceback.

pip is replaced by a fake that writes a small tree (or by one that fails the test if called), and the library and
the pins by copies in a temporary directory; only the last test runs the real pip, against an address that refuses.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack

import app
from infra import runtime_function
from infra.runtime_function import RuntimeLayer, build_layer, dependencies_key, layer_inputs_hash
from safedeploy.errors import BuildError

# What pip 26.3 prints when its index is at an address that refuses connections.
OFFLINE_PIP = """\
WARNING: Retrying (Retry(total=0, connect=None, read=None, redirect=None, status=None)) after connection broken by \
'NewConnectionError("HTTPConnection(host='127.0.0.1', port=9): Failed to establish a new connection: [Errno 111] \
Connection refused")': /simple/numpy/
ERROR: Could not find a version that satisfies the requirement numpy==2.4.6 (from versions: none)
ERROR: No matching distribution found for numpy==2.4.6
"""


class FakePip:
    """Stands in for `subprocess.run` of pip: writes a tree into `--target` (its numpy names the pins it was given)."""

    def __init__(self, *, fail_with: str | None = None, interrupt: bool = False) -> None:
        self.calls: list[list[str]] = []
        self.fail_with, self.interrupt = fail_with, interrupt

    def __call__(self, args: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        assert args[1:4] == ["-m", "pip", "install"], args
        assert "--no-color" in args, "the CDK CLI sets FORCE_COLOR (0 when piped), which pip reads as: colour"
        self.calls.append(args)
        target = Path(args[args.index("--target") + 1])
        pins = Path(args[args.index("-r") + 1]).read_text()
        (target / "numpy" / "_core" / "tests").mkdir(parents=True)
        (target / "numpy" / "__init__.py").write_text(f"# {pins}")
        if self.interrupt:
            raise KeyboardInterrupt
        (target / "numpy" / "_core" / "tests" / "test_x.py").write_text("")
        (target / "numpy" / "__pycache__").mkdir()
        (target / "numpy" / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"")
        if self.fail_with is not None:
            return subprocess.CompletedProcess(args, 1, "", self.fail_with)
        return subprocess.CompletedProcess(args, 0, "", "")


def no_pip(args: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
    raise AssertionError(f"pip ran although its tree is kept: {args}")


@pytest.fixture
def library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small library and its pins in place of `safedeploy/` and `lambdas/requirements.txt`."""
    root = tmp_path / "safedeploy"
    for relative, text in {
        "__init__.py": "",
        "canary/analysis.py": "VERSION = 1\n",
        "operations/prices/ap-northeast-2.json": "{}\n",
        "cli/__init__.py": "",
        "__pycache__/__init__.cpython-311.pyc": "",
    }.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("numpy==2.4.6\n")
    monkeypatch.setattr(runtime_function, "LIBRARY", root)
    monkeypatch.setattr(runtime_function, "LAYER_REQUIREMENTS", requirements)
    return root


def use(monkeypatch: pytest.MonkeyPatch, run: Callable[..., Any]) -> None:
    monkeypatch.setattr(runtime_function.subprocess, "run", run)


def files(tree: Path) -> dict[str, str]:
    return {str(path.relative_to(tree)): path.read_text() for path in sorted(tree.rglob("*")) if path.is_file()}


def test_the_second_build_copies_the_kept_tree_and_runs_no_pip(
    library: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache, pip = tmp_path / "cache", FakePip()
    use(monkeypatch, pip)
    build_layer(tmp_path / "first", cache=cache)
    assert len(pip.calls) == 1
    assert [entry.name for entry in cache.iterdir()] == [dependencies_key()]  # and no temporary directory

    use(monkeypatch, no_pip)
    build_layer(tmp_path / "second", cache=cache)

    built = files(tmp_path / "second" / "python")
    assert built == files(tmp_path / "first" / "python")
    assert set(built) == {
        "numpy/__init__.py",
        "safedeploy/__init__.py",
        "safedeploy/canary/analysis.py",
        "safedeploy/operations/prices/ap-northeast-2.json",
    }  # no bytecode, numpy tests or CLI


def test_a_change_to_the_library_is_copied_without_pip(
    library: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    use(monkeypatch, FakePip())
    build_layer(tmp_path / "before", cache=cache)
    key, layer = dependencies_key(), layer_inputs_hash()

    (library / "canary" / "analysis.py").write_text("VERSION = 2\n")
    use(monkeypatch, no_pip)
    build_layer(tmp_path / "after", cache=cache)

    assert (tmp_path / "after" / "python" / "safedeploy" / "canary" / "analysis.py").read_text() == "VERSION = 2\n"
    assert dependencies_key() == key
    assert layer_inputs_hash() != layer, "the asset changes with the library, so the deployed layer does"


def test_the_cli_is_no_part_of_the_layer_or_its_hash(library: Path) -> None:
    layer = layer_inputs_hash()
    (library / "cli" / "__init__.py").write_text("# another command\n")
    assert layer_inputs_hash() == layer


def test_a_change_to_the_pins_installs_again(library: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache, pip = tmp_path / "cache", FakePip()
    use(monkeypatch, pip)
    build_layer(tmp_path / "before", cache=cache)
    key, layer = dependencies_key(), layer_inputs_hash()

    runtime_function.LAYER_REQUIREMENTS.write_text("numpy==2.4.7\n")
    build_layer(tmp_path / "after", cache=cache)

    assert len(pip.calls) == 2
    assert dependencies_key() != key and layer_inputs_hash() != layer
    assert sorted(entry.name for entry in cache.iterdir()) == sorted([key, dependencies_key()])
    assert (tmp_path / "after" / "python" / "numpy" / "__init__.py").read_text() == "# numpy==2.4.7\n"


def test_the_key_names_the_runtime_the_wheels_are_chosen_for(library: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = dependencies_key()
    monkeypatch.setattr(runtime_function, "RUNTIME_PYTHON", "3.14")
    assert dependencies_key() != key


def test_a_pip_failure_is_one_line_and_keeps_nothing(
    library: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    use(monkeypatch, FakePip(fail_with=OFFLINE_PIP))
    with pytest.raises(BuildError) as raised:
        build_layer(tmp_path / "out", cache=cache)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("Lambda layer: its wheels for python3.13 (manylinux x86_64) are installed from the")
    assert message.endswith("pip could not reach the package index: No matching distribution found for numpy==2.4.6")
    assert list(cache.iterdir()) == []

    use(monkeypatch, pip := FakePip())
    build_layer(tmp_path / "out", cache=cache)
    assert len(pip.calls) == 1


def test_an_interrupted_install_keeps_nothing(library: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    use(monkeypatch, FakePip(interrupt=True))
    with pytest.raises(KeyboardInterrupt):
        build_layer(tmp_path / "out", cache=cache)
    assert list(cache.iterdir()) == []


def test_the_layer_construct_raises_the_build_error_not_the_cdks(
    library: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CDK bundles in the construct, through jsii, which would turn the error into a RuntimeError with a stack."""
    monkeypatch.setattr(runtime_function, "LAYER_CACHE", tmp_path / "cache")
    use(monkeypatch, FakePip(fail_with=OFFLINE_PIP))
    stack = Stack(App(outdir=str(tmp_path / "cdk.out")), "Stack")
    with pytest.raises(BuildError, match=r"^Lambda layer: .*No matching distribution found for numpy==2\.4\.6$"):
        RuntimeLayer(stack, "Runtime")


def test_synth_ends_with_the_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    line = "Lambda layer: ...; pip could not reach the package index: No matching distribution found for numpy==2.4.6"

    def build_app(_: App) -> None:
        raise BuildError(line)

    monkeypatch.setattr(app, "build_app", build_app)
    with pytest.raises(SystemExit) as exit_:
        app.main()
    assert exit_.value.code == 1
    assert capsys.readouterr().err == f"{line}\n"


@pytest.mark.integration
def test_the_real_pip_without_an_index_is_one_line(
    library: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")  # the discard port: refused
    monkeypatch.setenv("PIP_RETRIES", "1")
    with pytest.raises(BuildError) as raised:
        build_layer(tmp_path / "out", cache=tmp_path / "cache")
    message = str(raised.value)
    assert "\n" not in message and sys.executable not in message
    assert message.endswith("pip could not reach the package index: No matching distribution found for numpy==2.4.6")
