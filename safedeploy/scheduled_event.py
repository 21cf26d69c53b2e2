"""The minute a scheduled EventBridge event stands for: scheduled handlers judge that minute, not their start time."""

from __future__ import annotations

from datetime import datetime


def event_time(time: object) -> datetime:
    """The event's ISO 8601 `time`, or a one-line error naming what arrived instead."""
    try:
        return datetime.fromisoformat(time)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"event time {time!r} is not an ISO 8601 time") from None
