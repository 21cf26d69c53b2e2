"""Loaded by test subprocesses (this directory is on their PYTHONPATH): their AWS requests are checked as the suite's,
and decided against the synthesized IAM when the test names the policies and the acting principal (iam_enforcement).

The check is installed when botocore's handlers are first imported, so a process that never uses botocore pays
nothing; under the IAM policies, aiohttp's client is checked too once imported (requests the process signs itself).
A violation is printed to stderr and appended to the file named by STRICT_AWS_CONTRACTS_LOG (which the test reads),
the request raises, and the process exits with status 86 whatever its code does with the exception.
"""

from __future__ import annotations

import atexit
import importlib.machinery
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

EXIT_STATUS = 86
_CONTRACTS = Path(__file__).resolve().parents[1] / "aws_contracts.py"


def _exit_failed() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(EXIT_STATUS)


def _report(violations: list[Any], log: str | None) -> None:
    where = " ".join(sys.argv) or sys.executable
    lines = [f"{violation} [in subprocess {os.getpid()}: {where}]" for violation in violations]
    print("\n".join(lines), file=sys.stderr, flush=True)
    if log:
        with open(log, "a", encoding="utf-8") as stream:
            stream.write("".join(f"{line}\n" for line in lines))
    atexit.unregister(_exit_failed)
    atexit.register(_exit_failed)  # registered last, so it runs first at exit


def _load(name: str) -> Any:
    if f"_strict_{name}" in sys.modules:
        return sys.modules[f"_strict_{name}"]
    spec = importlib.util.spec_from_file_location(f"_strict_{name}", _CONTRACTS.parent / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _log() -> str | None:
    return os.environ.get(_load("aws_contracts").SUBPROCESS_LOG_VARIABLE)


def _enforcement() -> Any:
    _load("iam_eval")
    _load("iam_requests")
    return _load("iam_enforcement")


def _install() -> None:
    log = _log()
    _load("aws_contracts").install(on_violation=lambda violations: _report(violations, log))
    if os.environ.get("STRICT_IAM_WORLD"):  # the calls are also decided against the synthesized IAM
        _enforcement().install(on_denial=lambda denials: _report(denials, log))


def _install_for_signed_requests() -> None:
    if os.environ.get("STRICT_IAM_WORLD"):
        # The checks' modules import botocore's handlers, whose import runs `_install` (which sets where a denial is
        # reported): let it finish first.
        import botocore.handlers  # noqa: F401

        _enforcement().install_for_signed_requests()


class _AfterImport:
    """A meta-path finder that runs an installer right after each of its modules is executed."""

    def __init__(self, installers: dict[str, Any]) -> None:
        self.installers = installers

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        install = self.installers.pop(name, None)
        if install is None:
            return None
        if not self.installers:
            sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        execute = spec.loader.exec_module

        def exec_module(module: Any) -> None:
            execute(module)
            install()

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, _AfterImport({"botocore.handlers": _install, "aiohttp.client": _install_for_signed_requests}))
