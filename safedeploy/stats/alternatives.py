"""The three alternatives every test accepts, with one-sided meaning "candidate (b) minus baseline (a)"."""

from __future__ import annotations

from typing import Literal

Alternative = Literal["two-sided", "greater", "less"]
ALTERNATIVES: tuple[Alternative, ...] = ("two-sided", "greater", "less")


def validate_alternative(alternative: str) -> Alternative:
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {', '.join(ALTERNATIVES)}, got {alternative!r}")
    return alternative  # type: ignore[return-value]
