"""Whether the fixed 5xx-rate rollback alarm would fire on a healthy fleet's noise.

The alarm (guardrails stack) breaches when a minute's Invocation5XXErrors Average exceeds the threshold and fires on
2 of 3 breaching minutes; SageMaker rolls back on it during every bake. At the declared quiet-hour traffic and
baseline error rate the errors of a minute are Binomial(n, p0), so a threshold near p0 trips healthy deployments by
chance: with 100 requests a minute and 1 % errors, a 1 % threshold is exceeded in a quarter of the minutes. The check
refuses a threshold whose chance of firing during one healthy deployment exceeds `FALSE_ROLLBACK_LIMIT`.
"""

from __future__ import annotations

import math

from safedeploy.stats.binomial import binomial_sf

FALSE_ROLLBACK_LIMIT = 0.01
# Every rollback alarm of the guardrails stack fires on this many breaching minutes out of this many.
ALARM_DATAPOINTS, ALARM_PERIODS = 2, 3


def silent_minutes_to_alarm(evaluation_range: int) -> int:
    """The most minutes a stopped canary analysis leaves the CanaryVerdict alarm quiet.

    CloudWatch evaluates the most recent existing points of its evaluation range (`evaluation_range` one-minute
    points, not documented) while at least ALARM_PERIODS exist, and fills the rest as breaching once fewer do: after
    k silent minutes ALARM_PERIODS - (range - k) points are filled, so it fires once that reaches ALARM_DATAPOINTS.
    """
    return evaluation_range - ALARM_PERIODS + ALARM_DATAPOINTS


def false_rollback_probability(threshold: float, requests: int, error_rate: float, minutes: int) -> float:
    """P(the alarm fires at least once in `minutes` minutes of a healthy fleet); a union bound over its windows,
    each firing when ALARM_DATAPOINTS of its ALARM_PERIODS minutes exceed `threshold` (a fraction; missing data
    does not breach)."""
    breach = binomial_sf(math.floor(threshold * requests) + 1, requests, error_rate)
    window = binomial_sf(ALARM_DATAPOINTS, ALARM_PERIODS, breach)
    return min(1.0, minutes * window)


def smallest_quiet_threshold(requests: int, error_rate: float, minutes: int) -> float:
    """The smallest threshold (in whole tenths of a percent) that keeps a healthy deployment under the limit."""
    for tenths in range(1, 1001):
        if false_rollback_probability(tenths / 1000, requests, error_rate, minutes) <= FALSE_ROLLBACK_LIMIT:
            return tenths / 10
    return 100.0
