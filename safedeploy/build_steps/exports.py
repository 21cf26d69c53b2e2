"""The values the Train action hands to later pipeline actions, as a file the buildspec sources.

CodeBuild exports a variable listed under `env.exported-variables` with the value it has in the build shell when the
build ends, so the step writes `NAME='value'` lines and the buildspec runs `set -a; . <file>; set +a`.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from pathlib import Path

from safedeploy.errors import InputError

# The metrics every model reports: the approval message and the quality gate read them (any model, same names).
HEADLINE_METRICS = ("auc", "accuracy", "f1")
PACKAGE_VARIABLE = "MODEL_PACKAGE_ARN"
# The approval message shows each exported metric: at most this many characters (a headline metric is 0-1).
METRIC_TEXT_LIMIT = 12
METRIC_VARIABLE_PREFIX = "MODEL_"


def exported_variables(package_arn: str, metrics: Mapping[str, float]) -> dict[str, str]:
    missing = [name for name in HEADLINE_METRICS if name not in metrics]
    if missing:
        raise InputError(f"the registered package has no {', '.join(missing)} metric to export")
    texts = {f"{METRIC_VARIABLE_PREFIX}{name.upper()}": f"{metrics[name]:.4f}" for name in HEADLINE_METRICS}
    for name, text in texts.items():
        if len(text) > METRIC_TEXT_LIMIT:
            raise InputError(f"{name} {text} is longer than the {METRIC_TEXT_LIMIT} characters the approval shows")
    return {PACKAGE_VARIABLE: package_arn, **texts}


def write_exports(variables: Mapping[str, str], path: Path) -> Path:
    for name in variables:
        if not re.fullmatch(r"[A-Z_][A-Z0-9_]*", name):
            raise InputError(f"{name!r} is not a shell variable name")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{name}={shlex.quote(value)}\n" for name, value in variables.items()))
    return path
