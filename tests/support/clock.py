"""A settable `safedeploy.clock.utc_now`: tests play minutes ahead of the wall clock, as the rehearsal does, and the
code under test must see the same "now" the played minute stands for (nothing an event says can set it)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from unittest.mock import patch

from safedeploy import clock


@dataclass
class SetClock:
    """The wall clock until `at` is set; then `at`."""

    at: datetime | None = None

    def __call__(self) -> datetime:
        return self.at or datetime.now(UTC)


@contextmanager
def set_clock() -> Iterator[SetClock]:
    settable = SetClock()
    with patch.object(clock, "utc_now", settable):
        yield settable
