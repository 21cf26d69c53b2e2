"""The verdict vocabulary shared with the canary analysis: what a traffic shift is told to do."""

from __future__ import annotations

from enum import StrEnum


class Decision(StrEnum):
    PROMOTE = "PROMOTE"
    CONTINUE = "CONTINUE"
    ROLLBACK = "ROLLBACK"


def parse_decision(value: object) -> Decision:
    """Accept a Decision, any enum whose value is a decision name (the statistics engine's), or its text."""
    text = str(getattr(value, "value", value)).strip().upper()
    try:
        return Decision(text)
    except ValueError:
        raise ValueError(f"decision {value!r} is not one of {', '.join(Decision)}") from None
