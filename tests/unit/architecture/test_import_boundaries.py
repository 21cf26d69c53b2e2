"""Product code never imports the tests, and shipped code never imports the simulated AWS world (testbed/): what
the rehearsal, the benches and the tests share lives in testbed/, and the Lambda layer, the functions and the
gateway image are built from packages that must run without it. Imports are read with `ast`, nothing is imported."""

from __future__ import annotations

from pathlib import Path

from tests.support.imports import imported_modules

ROOT = Path(__file__).resolve().parents[3]
# What runs in AWS or synthesizes what does: none of it may need the simulated world.
SHIPPED = ("app.py", "safedeploy", "infra", "stacks", "lambdas", "serving", "ml", "eta")
NOT_SOURCE = {"node_modules", "cdk.out", "__pycache__"}


def sources(*tops: str) -> list[Path]:
    paths = [ROOT / top for top in tops] if tops else list(ROOT.iterdir())
    found = []
    for path in paths:
        if path.is_file() and path.suffix == ".py":
            found.append(path)
        elif path.is_dir() and not path.name.startswith(".") and path.name not in NOT_SOURCE:
            found += [file for file in path.rglob("*.py") if NOT_SOURCE.isdisjoint(file.parts)]
    return found


def offenders(paths: list[Path], package: str) -> dict[str, list[str]]:
    found = {
        str(path.relative_to(ROOT)): sorted(
            module for module in imported_modules(path) if module == package or module.startswith(f"{package}.")
        )
        for path in paths
    }
    return {path: modules for path, modules in found.items() if modules}


def test_no_module_outside_the_tests_imports_them() -> None:
    outside = [path for path in sources() if path.relative_to(ROOT).parts[0] != "tests"]
    assert any(path.relative_to(ROOT).parts[0] == "testbed" for path in outside)
    assert offenders(outside, "tests") == {}


def test_shipped_code_does_not_import_the_simulated_world() -> None:
    assert offenders(sources(*SHIPPED), "testbed") == {}


def test_the_scan_sees_every_form_of_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "import tests\ndef f():\n    from tests.support.clock import SetClock\n    import testbed.aws as aws\n"
    )
    assert imported_modules(module) == {"tests", "tests.support.clock", "testbed.aws"}
