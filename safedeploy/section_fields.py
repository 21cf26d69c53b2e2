"""Field types of the `endpoint` and `model` sections: a type, its bounds and the project's wording of a refusal,
written once per field as `Annotated[...]` (`count: Integer(1, 100) = 2`).

The same lines reach an infra engineer at synth (from `cdk.json`) and an operator at deploy time (from SSM), so they
must be fixable without reading code: `environments.dev.endpoint.canary_size_percent: 80 is out of range (1-50)`.
Plain Python and pydantic only: the Lambda layer ships this module.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from pydantic import BeforeValidator

from safedeploy.sections import rule


def _is_integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: object) -> bool:
    """A finite int or float, never a bool (JSON's true is no 1)."""
    return (_is_integer(value) or isinstance(value, float)) and math.isfinite(value)  # type: ignore[arg-type]


def integer_in(low: int, high: int) -> Callable[[Any], int]:
    """The check of an integer in [low, high] (for a field whose bounds are looked up by its name)."""

    def check(value: Any) -> int:
        if not _is_integer(value):
            raise rule(f"{value!r} must be an integer ({low}-{high})")
        if not low <= value <= high:
            raise rule(f"{value} is out of range ({low}-{high})")
        return int(value)

    return check


def Integer(low: int, high: int) -> Any:
    """An integer in [low, high]."""
    return Annotated[int, BeforeValidator(integer_in(low, high))]


def PositiveNumber(high: float) -> Any:
    """A number in (0, high]: a threshold of zero would alarm on every request."""
    return _number(lambda value: 0 < value <= high, f"above 0, at most {high:g}")


def Number(low: float, high: float) -> Any:
    """A number in [low, high]."""
    return _number(lambda value: low <= value <= high, f"{low:g} to {high:g}")


def _number(within: Callable[[float], bool], bounds: str) -> Any:
    def check(value: Any) -> float:
        if not is_number(value):
            raise rule(f"{value!r} must be a number ({bounds})")
        if not within(value):
            raise rule(f"{value:g} is out of range ({bounds})")
        return float(value)

    return Annotated[float, BeforeValidator(check)]


def Text(pattern: str, example: str) -> Any:
    """A string matching `pattern` whole; a refusal shows `example`."""

    def check(value: Any) -> str:
        if not isinstance(value, str) or not re.fullmatch(pattern, value):
            raise rule(f"{value!r} must look like {example!r}")
        return value

    return Annotated[str, BeforeValidator(check)]


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise rule(f"{value!r} must be true or false")
    return value


def _integers(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list | tuple) or not all(_is_integer(item) for item in value):
        raise rule(f"{value!r} must be a list of integers")
    return tuple(value)


def _texts(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        raise rule(f"{value!r} must be a list of strings")
    return tuple(value)


Flag = Annotated[bool, BeforeValidator(_flag)]
IntegerList = Annotated[tuple[int, ...], BeforeValidator(_integers)]
TextList = Annotated[tuple[str, ...], BeforeValidator(_texts)]


def TextMapping(key_pattern: str) -> Any:
    """Names to strings, e.g. a container's environment variables."""

    def check(value: Any) -> dict[str, str]:
        if not isinstance(value, Mapping) or any(
            not isinstance(item, str) or not re.fullmatch(key_pattern, str(name)) for name, item in value.items()
        ):
            raise rule(f"{value!r} must map names ({key_pattern}) to strings")
        return dict(value)

    return Annotated[dict[str, str], BeforeValidator(check)]


# `model.metrics`: the headline metrics `train` reports (higher is better), each with its lowest acceptable value.
METRIC_NAME_LENGTH = 12  # "within_5_min"; longer would not fit the approval message (stacks/pipeline/approvals.py)
METRIC_NAME_PATTERN = rf"[a-z][a-z0-9_]{{0,{METRIC_NAME_LENGTH - 1}}}"
METRIC_BOUND = 1e6  # on any threshold
# The approval message shows every headline metric; more would not fit CodePipeline's 500 characters.
MAX_HEADLINE_METRICS = 3


def is_threshold(value: object) -> bool:
    return is_number(value) and abs(value) <= METRIC_BOUND  # type: ignore[arg-type]


def _metric_minimums(value: Any) -> dict[str, float]:
    if (
        not isinstance(value, Mapping)
        or not 1 <= len(value) <= MAX_HEADLINE_METRICS
        or any(not isinstance(name, str) or not re.fullmatch(METRIC_NAME_PATTERN, name) for name in value)
        or not all(is_threshold(minimum) for minimum in value.values())
    ):
        raise rule(
            f"{value!r} must map 1 to {MAX_HEADLINE_METRICS} metric names ({METRIC_NAME_PATTERN}) to the lowest "
            'acceptable value of each (a number, higher is better), e.g. {"auc": 0.75}'
        )
    return {name: float(minimum) for name, minimum in value.items()}


# In `model.metrics`' order: the approval message shows them so.
MetricMinimums = Annotated[dict[str, float], BeforeValidator(_metric_minimums)]
