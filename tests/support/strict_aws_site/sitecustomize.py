"""Loaded by test subprocesses (this directory is on their PYTHONPATH): their AWS requests are checked as the suite's.

The check is installed when botocore's handlers are first imported, so a process that never uses botocore pays
nothing. A violation is printed to stderr and appended to the file named by STRICT_AWS_CONTRACTS_LOG (which the test
reads), the request raises, and the process exits with status 86 whatever its code does with the exception.
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


def _install() -> None:
    spec = importlib.util.spec_from_file_location("_strict_aws_contracts", _CONTRACTS)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    log = os.environ.get(module.SUBPROCESS_LOG_VARIABLE)
    module.install(on_violation=lambda violations: _report(violations, log))


class _AfterBotocoreHandlers:
    """A meta-path finder that installs the check right after `botocore.handlers` is executed."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != "botocore.handlers":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        execute = spec.loader.exec_module

        def exec_module(module: Any) -> None:
            execute(module)
            _install()

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, _AfterBotocoreHandlers())
