"""The one mechanism behind every `cdk.json` section: a pydantic model whose fields hold the defaults and the rules,
and the one formatter that turns pydantic's report into the project's line `<key path>: <problem>`.

Each section's model lives with the runtime code that reads it; `infra/config.py` composes them for synth, so the
CDK app and a Lambda validate a section with the same class. Plain Python and pydantic only: the Lambda layer ships
this module.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import PydanticCustomError

from safedeploy.errors import ConfigError

SHOWN_VALUE = 60  # characters of a bad value an error line repeats
RULE = "setting"  # the error type of a field's own refusal (`rule`)

Model = TypeVar("Model", bound=BaseModel)


class Section(BaseModel):
    """A cdk.json section: immutable, no unknown key (a typo must not pass silently), no coercion ("1" is no 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def validated(model: type[Model], raw: object, path: str) -> Model:
    """`raw` as `model`, or ConfigError naming the first bad key under `path`."""
    if raw is None:
        raise ConfigError(f"{path}: null; omit the key to take the defaults, or give an object")
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path}: {raw!r} must be an object")
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(one_line(path, error, raw, model)) from None


def parsed_json(text: str, path: str) -> Any:
    """A published section's JSON (an SSM parameter's value), or ConfigError naming where it does not parse."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"{path}: not valid JSON ({error.msg} at character {error.pos})") from None


def rule(message: str) -> PydanticCustomError:
    """A field's own refusal, already worded as `<value> <problem>`: the error line adds only the key path."""
    return PydanticCustomError(RULE, message)


def one_line(path: str, error: ValidationError, raw: Mapping[str, Any], model: type[BaseModel] | None = None) -> str:
    """pydantic's first error as `<path>.<key>: <value>: <problem>`; a rule over a whole section names its own keys.
    With the `model`, an unknown key's line lists the keys its section allows."""
    first = error.errors(include_url=False)[0]
    loc = _key_location(raw, first["loc"])
    location = ".".join(str(part) for part in loc)
    key_path = f"{path}.{location}" if location else path
    if first["type"] == "extra_forbidden":
        allowed = _allowed_keys(model, loc[:-1]) if model else None
        return f"{key_path}: unknown key" + (f"; allowed: {', '.join(allowed)}" if allowed else "")
    present, value = _value_at(raw, loc)
    if present and value is None:
        return f"{key_path}: null; omit the key to take the defaults, or give a value"
    if first["type"] == RULE:
        return f"{key_path}: {first['msg']}"
    if first["type"] == "model_type":
        return f"{key_path}: {value!r} must be an object"
    message = first["msg"].removeprefix("Value error, ")
    if value is None or isinstance(value, Mapping):  # a section-level rule names its own keys and values
        return f"{key_path}: {message}"
    shown = repr(value)
    if len(shown) > SHOWN_VALUE:  # one line stays readable: a 300-character branch name is cut, with its length
        length = len(value) if isinstance(value, str) else len(shown)
        shown = f"{shown[:SHOWN_VALUE]}... ({length} characters)"
    return f"{key_path}: {shown}: {message}"


def _key_location(raw: Mapping[str, Any], location: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """pydantic names the chosen member of a tagged union (`source.codeconnections.x`); cdk.json has no such key,
    only the tag's value beside the other keys, so a part that is no key but a value of its mapping is dropped."""
    kept: list[int | str] = []
    value: Any = raw
    for part in location:
        if isinstance(value, Mapping) and part not in value and part in value.values():
            continue
        kept.append(part)
        value = value.get(part) if isinstance(value, Mapping) else None
    return tuple(kept)


def _allowed_keys(model: type[BaseModel], location: tuple[int | str, ...]) -> list[str] | None:
    """The keys of the section at `location` inside `model`, in their declared order (None past a non-model)."""
    for part in location:
        annotation = model.model_fields[str(part)].annotation if str(part) in model.model_fields else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return list(model.model_fields)


def _value_at(raw: Mapping[str, Any], location: tuple[int | str, ...]) -> tuple[bool, Any]:
    """(whether the key is there, its value): a key set to null is there."""
    value: Any = raw
    for part in location:
        if not isinstance(value, Mapping) or part not in value:
            return False, None
        value = value[part]
    return True, value
