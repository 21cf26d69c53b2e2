"""Reading plain-JSON objects with errors that name the offending path, for `analyze` files and Lambda events."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any

from safedeploy.errors import InputError


def json_mapping(data: Any, where: str) -> dict[str, Any]:
    """An object with free-form keys (metric names)."""
    if not isinstance(data, Mapping):
        raise InputError(f"{where} must be an object, got {type(data).__name__}")
    return {str(key): value for key, value in data.items()}


def json_object(data: Any, where: str, required: Iterable[str] = (), optional: Iterable[str] = ()) -> dict[str, Any]:
    """The object at `where`, checked for missing and unknown keys (a typo must not silently disable a guard)."""
    json_mapping(data, where)
    needed, allowed = set(required), set(required) | set(optional)
    missing = sorted(needed - data.keys())
    if missing:
        raise InputError(f"{where} is missing {', '.join(repr(key) for key in missing)}")
    unknown = sorted(set(data.keys()) - allowed)
    if unknown:
        raise InputError(f"{where} has unknown field(s) {', '.join(repr(str(key)) for key in unknown)}")
    return dict(data)


def json_number_list(data: Any, where: str, allow_null: bool = False) -> list[float]:
    """A list of finite numbers; null becomes NaN where allowed (CloudWatch periods without samples)."""
    if not isinstance(data, list):
        raise InputError(f"{where} must be a list of numbers")
    values: list[float] = []
    for index, item in enumerate(data):
        if item is None and allow_null:
            values.append(math.nan)
        elif isinstance(item, bool) or not isinstance(item, int | float) or not finite(item):
            raise InputError(f"{where}[{index}] must be a finite number, got {shown(item)}")
        else:
            values.append(float(item))
    return values


def finite(number: float) -> bool:
    """Finite as a float: JSON integers beyond a float's range (10^309) are not, though Python holds them."""
    try:
        return math.isfinite(number)
    except OverflowError:
        return False


def shown(value: Any) -> str:
    """A value for an error line: a 10,000-digit integer is not printed whole."""
    text = (
        repr(value)
        if not isinstance(value, int) or value.bit_length() < 128
        else f"an integer of {value.bit_length()} bits"
    )
    return text if len(text) <= 80 else text[:77] + "..."


def json_safe(value: Any) -> Any:
    """Plain ints and floats for numpy scalars and None for non-finite numbers, recursively (strict JSON)."""
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    number = float(value)
    return number if math.isfinite(number) else None
