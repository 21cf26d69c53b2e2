"""The verdict vocabulary: what the statistics engine concludes, the canary analysis records and publishes, and the
traffic shifter and the A/B and shadow steps act on. Defined here alone; a StrEnum, so records and events carry the
plain words."""

from __future__ import annotations

from enum import StrEnum


class Decision(StrEnum):
    PROMOTE = "PROMOTE"
    CONTINUE = "CONTINUE"
    ROLLBACK = "ROLLBACK"


def parse_decision(value: object) -> Decision:
    """A Decision from itself or its text (any case, surrounding blanks ignored), e.g. an event's `detail.decision`."""
    text = str(value).strip().upper()
    try:
        return Decision(text)
    except ValueError:
        raise ValueError(f"decision {value!r} is not one of {', '.join(Decision)}") from None
