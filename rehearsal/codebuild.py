"""Runs a buildspec's build commands the way CodeBuild does: one bash shell, the project's variables, stop at the
first failing command. The install phase is skipped: the rehearsal's venv already holds what it installs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
PHASES = ("build", "post_build")


def build_script(buildspec: Path | dict[str, Any]) -> str:
    """A buildspec file of the source, or the buildspec a CodeBuild project carries itself."""
    spec = buildspec if isinstance(buildspec, dict) else yaml.safe_load(buildspec.read_text())
    commands = [command for phase in PHASES for command in spec["phases"].get(phase, {}).get("commands", [])]
    exported = spec.get("env", {}).get("exported-variables", [])
    return "\n".join([*commands, *(f'echo "EXPORTED {name}=${{{name}}}"' for name in exported)])


def codebuild_environment(aws: Mapping[str, str], source_dir: Path, **variables: str) -> dict[str, str]:
    return {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(source_dir),
        **aws,
        "CODEBUILD_SRC_DIR": str(source_dir),
        "CODEBUILD_BUILD_SUCCEEDING": "1",
        **variables,
    }


def start_build(
    buildspec: Path | dict[str, Any], environment: Mapping[str, str], source_dir: Path
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["bash", "-e", "-c", build_script(buildspec)],
        cwd=source_dir,
        env=dict(environment),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def exported_variables(output: str) -> dict[str, str]:
    pairs = (
        line.removeprefix("EXPORTED ").split("=", 1) for line in output.splitlines() if line.startswith("EXPORTED ")
    )
    return {name: value for name, value in pairs}
