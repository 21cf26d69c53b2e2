"""CloudWatch's documented evaluation of missing data, and the CanaryVerdict alarm failing closed under it.

CloudWatch "attempts to retrieve a higher number of data points than specified by Evaluation Periods" (the
evaluation range); when enough of them exist it evaluates the most recent existing ones and ignores the
missing-data setting; only when fewer exist than Evaluation Periods does it fill missing ones with the setting, "as
few times as possible" (docs/aws-behaviours.md). The length of the range for one-minute periods is not documented
beyond being "higher" than Evaluation Periods, so every bound here holds for any range from Evaluation Periods + 1 up
to an hour of points.
"""

from __future__ import annotations

import pytest

from rehearsal.aws_simulator import EVALUATION_RANGE, Alarm, evaluate_alarm
from safedeploy.guardrails.alarm_noise import ALARM_DATAPOINTS, ALARM_PERIODS, silent_minutes_to_alarm
from stacks.guardrails_stack import VERDICT_FILL_VALUE

# The page's two tables: 0 = not breaching, X = breaching, - = missing; oldest first; 5 points retrieved.
# (points, datapoints to alarm, evaluation periods, MISSING, IGNORE, BREACHING, NOT BREACHING)
DOC_TABLE = [
    ("0 - X - X", 3, 3, "OK", "OK", "OK", "OK"),
    ("0 - - - -", 3, 3, "OK", "OK", "OK", "OK"),
    ("- - - - -", 3, 3, "Insufficient data", "Retain current state", "ALARM", "OK"),
    ("0 X X - X", 3, 3, "ALARM", "ALARM", "ALARM", "ALARM"),
    ("- - - - X", 3, 3, "Insufficient data", "Retain current state", "ALARM", "OK"),
    ("X - - - -", 3, 3, "ALARM", "Retain current state", "ALARM", "OK"),
    ("0 - X - X", 2, 3, "ALARM", "ALARM", "ALARM", "ALARM"),
    ("0 0 X 0 X", 2, 3, "ALARM", "ALARM", "ALARM", "ALARM"),
    ("0 - X - -", 2, 3, "OK", "OK", "ALARM", "OK"),
    ("- - - - 0", 2, 3, "OK", "OK", "ALARM", "OK"),
    ("- - - - X", 2, 3, "Insufficient data", "Retain current state", "ALARM", "OK"),
]


def parse(points: str) -> list[bool | None]:
    return [{"0": False, "X": True, "-": None}[p] for p in points.split()]


def state(alarm: bool) -> str:
    return "ALARM" if alarm else "OK"


@pytest.mark.parametrize(("points", "m", "n", "missing", "ignore", "breaching", "not_breaching"), DOC_TABLE)
def test_the_model_reproduces_the_documented_table(
    points: str, m: int, n: int, missing: str, ignore: str, breaching: str, not_breaching: str
) -> None:
    """The two settings the rollback alarms use (breaching, not breaching) in every row of the page's tables."""
    data = parse(points)
    assert state(evaluate_alarm(data, periods=n, datapoints=m, missing_breaches=True)) == breaching
    assert state(evaluate_alarm(data, periods=n, datapoints=m, missing_breaches=False)) == not_breaching
    if sum(p is not None for p in data) >= n:  # enough real points: the setting is ignored, all columns agree
        assert missing == ignore == breaching == not_breaching


def verdict_alarm(evaluation_range: int, fill: float | None = VERDICT_FILL_VALUE) -> Alarm:
    """The CanaryVerdict alarm after a range of healthy minutes (the idle analysis publishes 0 every minute)."""
    return Alarm("verdict", "verdict", 1, inclusive=True, missing_breaches=True, fill=fill,
                 evaluation_range=evaluation_range, values=[0.0] * evaluation_range)  # fmt: skip


def minutes_until_alarm(published: list[bool], alarm: Alarm, minutes: int = 120) -> int | None:
    """Feed `alarm` one minute at a time: a healthy verdict (0) where `published` says the analysis ran (repeating
    the pattern), nothing otherwise; the first minute it fires, or None."""
    for minute in range(minutes):
        if alarm.observe(0.0 if published[minute % len(published)] else None):
            return minute
    return None


@pytest.mark.parametrize("evaluation_range", range(3 * ALARM_PERIODS, 61))
def test_a_plain_breaching_alarm_misses_an_intermittent_analysis(evaluation_range: int) -> None:
    """What the stack had: TreatMissingData breaching on the raw verdict. An analysis blind two minutes in every
    three leaves enough real (healthy) points in a range of 9 or more for CloudWatch to ignore the setting."""
    assert minutes_until_alarm([True, False, False], verdict_alarm(evaluation_range, fill=None)) is None


@pytest.mark.parametrize("evaluation_range", range(ALARM_PERIODS + 1, 61))
@pytest.mark.parametrize("pattern", [[True, False, False], [True, True, False, False], [True] * 7 + [False] * 2])
def test_two_blind_minutes_in_a_row_trip_the_verdict_alarm(evaluation_range: int, pattern: list[bool]) -> None:
    """FILL(verdict, 1): a minute without a verdict between two verdicts is a breaching point, not a missing one,
    so any two consecutive blind minutes fire the 2-of-3 alarm once the next verdict arrives."""
    fired = minutes_until_alarm([True] * 30 + pattern * 30, verdict_alarm(evaluation_range))
    assert fired is not None and fired <= 30 + len(pattern)


@pytest.mark.parametrize("evaluation_range", range(ALARM_PERIODS + 1, 61))
def test_one_blind_minute_at_a_time_is_tolerated(evaluation_range: int) -> None:
    """Blind every other minute, the analysis still judges all the data so far at least every 2 minutes (a ROLLBACK
    among those verdicts fires the alarm as before): a lone missed minute does not roll a good model back."""
    assert minutes_until_alarm([True, False], verdict_alarm(evaluation_range)) is None
    harmful = verdict_alarm(evaluation_range)
    assert not harmful.observe(None)
    assert harmful.observe(1.0)  # the gap filled as 1, then a ROLLBACK verdict: 2 of 3


@pytest.mark.parametrize("evaluation_range", range(ALARM_PERIODS + 1, 61))
def test_a_stopped_analysis_trips_it_within_the_documented_bound(evaluation_range: int) -> None:
    """Stopped for good after healthy minutes (FILL fills no minute after the last real point, the slower case):
    the alarm fires after exactly `silent_minutes_to_alarm(range)` silent minutes, range - periods + datapoints."""
    verdict = verdict_alarm(evaluation_range)
    silent = next(minutes for minutes in range(1, 200) if verdict.observe(None))
    assert silent == silent_minutes_to_alarm(evaluation_range)


def test_the_bound_with_the_documented_example_range_is_four_minutes() -> None:
    """The page's example retrieves 5 points for 3 evaluation periods: 2 of 3 fires after 4 silent minutes."""
    assert EVALUATION_RANGE == 5 and silent_minutes_to_alarm(EVALUATION_RANGE) == ALARM_DATAPOINTS + 2 == 4
