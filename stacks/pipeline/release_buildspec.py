"""The buildspec of a release environment's Deploy (prod), written at synth and held by the CodeBuild project.

Prod's Deploy must not run any branch head of dev's repository, nor anything its own source artifact could carry
besides release.json. So its buildspec is this stack's own: it pins what the CLI imports (boto3, pydantic, numpy),
runs the tooling gate (inlined from `safedeploy/build_steps/tooling_gate.py`) to check and unpack the tooling bundle
dev approved, and only then runs `safedeploy deploy` and `safedeploy smoke-test` from that bundle.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
GATE_SCRIPT = ROOT / "safedeploy" / "build_steps" / "tooling_gate.py"
REQUIREMENTS = ROOT / "requirements.txt"
# What the CLI imports (tests/unit/registry/test_deploy_tooling.py reads it): its settings are the cdk.json sections'
# models (pydantic), and the guardrails' alarm-noise check computes with numpy.
PINNED = ("boto3", "botocore", "pydantic", "numpy")
# Variables the CodeBuild project sets: PROJECT, ENV, SOURCE_ENV and SOURCE_ARTIFACTS_BUCKET (from SSM).
REQUIRED_VARIABLES = ("PROJECT", "ENV", "SOURCE_ENV", "SOURCE_ARTIFACTS_BUCKET")


def pins() -> list[str]:
    text = REQUIREMENTS.read_text()
    found = [match.group(0) for name in PINNED if (match := re.search(rf"^{name}==\S+", text, re.MULTILINE))]
    if len(found) != len(PINNED):
        raise ValueError(f"{REQUIREMENTS.name} must pin {', '.join(PINNED)} with ==")
    return found


def release_buildspec() -> dict[str, Any]:
    required = " ".join(REQUIRED_VARIABLES)
    deploy = (
        f"set -euo pipefail\n"
        f"for name in {required}; do\n"
        f'  if [ -z "${{!name:-}}" ]; then echo "$name must be set on the CodeBuild project"; exit 2; fi\n'
        f"done\n"
        f'tooling_dir="$(mktemp -d)"\n'
        f'python3 - "$CODEBUILD_SRC_DIR/release.json" "$SOURCE_ARTIFACTS_BUCKET" "$tooling_dir" <<\'GATE\'\n'
        f"{GATE_SCRIPT.read_text()}"
        f"GATE\n"
        f'export PYTHONPATH="$tooling_dir"\n'
        f'python3 -m safedeploy deploy --project "$PROJECT" --env "$ENV" '
        f'--release-file "$CODEBUILD_SRC_DIR/release.json" --source-env "$SOURCE_ENV"\n'
        f'python3 -m safedeploy smoke-test --project "$PROJECT" --env "$ENV"\n'
    )
    return {
        "version": "0.2",
        "env": {"shell": "bash"},
        "phases": {
            "install": {
                "runtime-versions": {"python": "3.11"},
                "commands": [f"pip install --quiet {' '.join(pins())}"],
            },
            "build": {"commands": [deploy]},
        },
    }
