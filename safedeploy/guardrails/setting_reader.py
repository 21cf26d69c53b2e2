"""Typed reads from a plain mapping that fail with one line naming the key path, the bad value and what is allowed.

The same messages reach an infra engineer at synth (from `cdk.json`) and an operator at deploy time (from SSM), so
they must be fixable without reading code: `environments.dev.endpoint.canary_size_percent: 80 is out of range (1-50)`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from safedeploy.errors import ConfigError


class SettingReader:
    """Reads the keys of one mapping; `finish()` refuses the keys nobody asked for (typos must not pass silently)."""

    def __init__(self, raw: object, path: str) -> None:
        if raw is None:
            raise ConfigError(f"{path}: null; omit the key to take the defaults, or give an object")
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{path}: {raw!r} must be an object")
        self._raw: Mapping[str, Any] = raw
        self.path = path
        self._read: list[str] = []

    def key_path(self, key: str) -> str:
        return f"{self.path}.{key}"

    def _value(self, key: str, default: Any) -> Any:
        self._read.append(key)
        return self._raw.get(key, default)

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        value = self._value(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{self.key_path(key)}: {value!r} must be an integer ({low}-{high})")
        if not low <= value <= high:
            raise ConfigError(f"{self.key_path(key)}: {value} is out of range ({low}-{high})")
        return value

    def optional_integer(self, key: str, low: int, high: int) -> int | None:
        """An integer in [low, high], or None when the key is absent."""
        if key not in self._raw:
            self._read.append(key)
            return None
        return self.integer(key, low, low, high)

    def integer_or_auto(self, key: str, low: int, high: int) -> int | str | None:
        """An integer in range, the keyword "auto", or None when the key is absent."""
        if key not in self._raw or self._raw[key] == "auto":
            self._read.append(key)
            return self._raw.get(key)
        return self.integer(key, low, low, high)

    def boolean(self, key: str, default: bool) -> bool:
        value = self._value(key, default)
        if not isinstance(value, bool):
            raise ConfigError(f"{self.key_path(key)}: {value!r} must be true or false")
        return value

    def positive_number(self, key: str, default: float, high: float) -> float:
        """A number in (0, high]: a threshold of zero would alarm on every request."""
        value = self._value(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ConfigError(f"{self.key_path(key)}: {value!r} must be a number (above 0, at most {high:g})")
        if not 0 < value <= high:
            raise ConfigError(f"{self.key_path(key)}: {value:g} is out of range (above 0, at most {high:g})")
        return float(value)

    def number(self, key: str, default: float, low: float, high: float) -> float:
        """A number in [low, high]."""
        value = self._value(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ConfigError(f"{self.key_path(key)}: {value!r} must be a number ({low:g} to {high:g})")
        if not low <= value <= high:
            raise ConfigError(f"{self.key_path(key)}: {value:g} is out of range ({low:g} to {high:g})")
        return float(value)

    def text(self, key: str, default: str, pattern: str, example: str) -> str:
        value = self._value(key, default)
        if not isinstance(value, str) or not re.fullmatch(pattern, value):
            raise ConfigError(f"{self.key_path(key)}: {value!r} must look like {example!r}")
        return value

    def choice(self, key: str, default: str, allowed: Sequence[str]) -> str:
        value = self._value(key, default)
        if value not in allowed:
            raise ConfigError(f"{self.key_path(key)}: {value!r} is not one of {', '.join(allowed)}")
        return str(value)

    def integer_list(self, key: str, default: Sequence[int]) -> tuple[int, ...]:
        value = self._value(key, list(default))
        if not isinstance(value, list | tuple) or any(
            isinstance(item, bool) or not isinstance(item, int) for item in value
        ):
            raise ConfigError(f"{self.key_path(key)}: {value!r} must be a list of integers")
        return tuple(value)

    def text_mapping(self, key: str, key_pattern: str) -> dict[str, str]:
        """A mapping of names to strings, e.g. a container's environment variables."""
        value = self._value(key, {})
        if not isinstance(value, Mapping) or any(
            not isinstance(item, str) or not re.fullmatch(key_pattern, str(name)) for name, item in value.items()
        ):
            raise ConfigError(f"{self.key_path(key)}: {value!r} must map names ({key_pattern}) to strings")
        return dict(value)

    def required(self, key: str) -> Any:
        if key not in self._raw:
            raise ConfigError(f"{self.key_path(key)}: missing")
        return self._value(key, None)

    def text_list(self, key: str) -> tuple[str, ...]:
        value = self.required(key)
        if not isinstance(value, list | tuple) or any(not isinstance(item, str) for item in value):
            raise ConfigError(f"{self.key_path(key)}: {value!r} must be a list of strings")
        return tuple(value)

    def section(self, key: str) -> SettingReader:
        return SettingReader(self._value(key, {}), self.key_path(key))

    def finish(self) -> None:
        unknown = sorted(set(self._raw) - set(self._read))
        if unknown:
            raise ConfigError(f"{self.key_path(unknown[0])}: unknown key; allowed: {', '.join(self._read)}")
