"""One name, one concept: no two top-level classes of the shipped code, the rehearsal and the simulated world share
a name (a reader who meets `Fleet` or `LiveBaseline` must not have to ask which one). Read with `ast`."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from tests.unit.architecture.test_import_boundaries import ROOT, SHIPPED, sources


def twin_classes(paths: list[Path], root: Path = ROOT) -> dict[str, list[str]]:
    """Each top-level class name with the modules that define one, for the names defined more than once."""
    defined: dict[str, list[str]] = defaultdict(list)
    for path in paths:
        for node in ast.parse(path.read_text(), str(path)).body:
            if isinstance(node, ast.ClassDef):
                defined[node.name].append(str(path.relative_to(root)))
    return {name: modules for name, modules in defined.items() if len(modules) > 1}


def test_no_class_name_is_defined_twice() -> None:
    paths = sources(*SHIPPED, "rehearsal", "testbed")
    assert len(paths) > 100
    assert twin_classes(paths) == {}


def test_the_scan_finds_a_twin(tmp_path: Path) -> None:
    first, second = tmp_path / "a.py", tmp_path / "b.py"
    first.write_text("class Fleet:\n    pass\n")
    second.write_text("def f():\n    class Local:\n        pass\nclass Fleet:\n    pass\n")
    assert twin_classes([first, second], tmp_path) == {"Fleet": ["a.py", "b.py"]}
