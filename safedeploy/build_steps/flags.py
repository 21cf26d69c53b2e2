"""Strict on/off switches from the environment: exactly `true` or `false`.

A lenient parser turns a typo in a buildspec (the seed's `USE_FEATURE_STORE` line had one) into a silent `false`
and trains on the wrong data; here it fails the build with the variable's name. Run as a module to check switches
before anything is installed: ``python -m safedeploy.build_steps.flags USE_SM_PIPELINE USE_FEATURE_STORE``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

from safedeploy.errors import ConfigError

TRUE = "true"
FALSE = "false"


def parse_flag(name: str, value: str) -> bool:
    if value == TRUE:
        return True
    if value == FALSE:
        return False
    raise ConfigError(f"{name} must be '{TRUE}' or '{FALSE}', got {value!r}")


def env_flag(environ: Mapping[str, str], name: str, *, default: bool = False) -> bool:
    """The switch `name`; `default` only when the variable is not set at all (an empty value is an error)."""
    return default if name not in environ else parse_flag(name, environ[name])


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    names = list(sys.argv[1:] if argv is None else argv)
    if not names:
        print("usage: python -m safedeploy.build_steps.flags NAME [NAME ...]", file=sys.stderr)
        return 2
    values = dict(os.environ if environ is None else environ)
    errors = []
    for name in names:
        try:
            print(f"{name}={str(env_flag(values, name)).lower()}")
        except ValueError as error:
            errors.append(str(error))
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    return 2 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
