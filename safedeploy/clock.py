"""The one source of "now" for the Lambdas and the library behind them, and which recorded times are believable.

Time comes from the clock, never from an event: anyone with `lambda:InvokeFunction` chooses an event's `time`, and a
decision written "in the future" would stay the newest record of its deployment, refusing every honest verdict after
it and cutting the hold of every weight short. A simulator replaces `utc_now` in its own process; nothing a caller
sends can. Records keyed by time (`<YYYYmmddTHHMMSSZ>-<DECISION>.json`) are believed only when dated between their
deployment's start and the clock, each widened by `CLOCK_SKEW` (the Lambda, SageMaker and S3 clocks are NTP-synced,
not identical).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

CLOCK_SKEW = timedelta(minutes=1)
STAMP = "%Y%m%dT%H%M%SZ"


def utc_now() -> datetime:
    return datetime.now(UTC)


def stamp(at: datetime) -> str:
    """`at` as the leading part of a record key (UTC, to the second)."""
    return at.astimezone(UTC).strftime(STAMP)


def key_time(key: str) -> datetime | None:
    """The time a record key starts with (its last path segment), or None when it starts with none."""
    name = key.rsplit("/", 1)[-1]
    try:
        return datetime.strptime(name[: len("YYYYmmddTHHMMSSZ")], STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None


def time_refusal(at: datetime | None, not_before: datetime | None, now: datetime) -> str | None:
    """Why a record dated `at` cannot be believed (None when it can): no time, after the clock, or before its
    deployment (`not_before`) began."""
    if at is None or at.tzinfo is None:
        return "it carries no UTC time"
    if at > now + CLOCK_SKEW:
        return f"it is dated {at.isoformat()}, after the clock's {now.isoformat(timespec='seconds')}"
    if not_before is not None and at < not_before - CLOCK_SKEW:
        return f"it is dated {at.isoformat()}, before its deployment began at {not_before.isoformat()}"
    return None
