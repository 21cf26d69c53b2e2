"""A module's imports read with `ast`, nothing imported: how the architecture tests check who may import what."""

from __future__ import annotations

import ast
import sys
from pathlib import Path


def imported_modules(path: Path) -> set[str]:
    """Every absolute import of the module, at any depth (a function's own imports too)."""
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


def module_level_imports(path: Path) -> set[str]:
    """What importing the module imports (a function's own imports wait until it runs)."""
    body = ast.parse(path.read_text(), str(path)).body
    imports = {alias.name for node in body if isinstance(node, ast.Import) for alias in node.names}
    return imports | {n.module for n in body if isinstance(n, ast.ImportFrom) and n.module and n.level == 0}


def third_party_at_import(root: Path, package: str, *starts: Path) -> set[str]:
    """The top-level distributions outside the standard library that importing `starts` loads, following every
    module of `package` (and the package `__init__` modules on the way) found under `root`."""
    pending, seen, third_party = list(starts), set[Path](), set[str]()
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        for module in module_level_imports(path):
            top = module.split(".")[0]
            if top != package:
                third_party |= {top} - set(sys.stdlib_module_names) - {"__future__"}
                continue
            parts = module.split(".")
            for depth in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__ and a/b/__init__ first
                folder = root.joinpath(*parts[:depth])
                found = folder / "__init__.py" if folder.is_dir() else folder.with_suffix(".py")
                if found.is_file():
                    pending.append(found)
    return third_party
