"""The values the Train action hands to later pipeline actions, as a file the buildspec sources.

CodeBuild exports a variable listed under `env.exported-variables` with the value it has in the build shell when the
build ends, so the step writes `NAME='value'` lines and the buildspec runs `set -a; . <file>; set +a`.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path

from safedeploy.errors import InputError
from safedeploy.section_fields import MAX_HEADLINE_METRICS, METRIC_BOUND, METRIC_NAME_LENGTH

PACKAGE_VARIABLE = "MODEL_PACKAGE_ARN"
# The candidate's headline metrics (`model.metrics`, in its order) as the approval message shows them:
# "auc 0.9123, accuracy 0.8000, f1 0.7500".
METRICS_VARIABLE = "MODEL_METRICS"
_LONGEST_VALUE = len(f"{-METRIC_BOUND:.4f}")
METRICS_TEXT_LIMIT = MAX_HEADLINE_METRICS * (METRIC_NAME_LENGTH + 1 + _LONGEST_VALUE) + (MAX_HEADLINE_METRICS - 1) * 2


def exported_variables(package_arn: str, metrics: Mapping[str, float], headline: Sequence[str]) -> dict[str, str]:
    """`headline`: the metric names `model.metrics` declares; the model must have reported every one."""
    missing = [name for name in headline if name not in metrics]
    if missing:
        raise InputError(
            f"the model reported no {', '.join(missing)} metric (model.metrics names it); it reported "
            f"{', '.join(sorted(metrics)) or 'none'}"
        )
    text = ", ".join(f"{name} {metrics[name]:.4f}" for name in headline)
    if len(text) > METRICS_TEXT_LIMIT:
        raise InputError(f"{METRICS_VARIABLE} {text!r} is longer than the {METRICS_TEXT_LIMIT} characters it may take")
    return {PACKAGE_VARIABLE: package_arn, METRICS_VARIABLE: text}


def write_exports(variables: Mapping[str, str], path: Path) -> Path:
    for name in variables:
        if not re.fullmatch(r"[A-Z_][A-Z0-9_]*", name):
            raise InputError(f"{name!r} is not a shell variable name")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{name}={shlex.quote(value)}\n" for name, value in variables.items()))
    return path
