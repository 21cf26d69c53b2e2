"""The information limit a canary's decision is measured against: Wald's sequential probability ratio test that
knows the effect (simple against simple, alpha 0.05, power 0.9), the fastest test of its error rates (Wald and
Wolfowitz 1948). The bench runs it on the simulated data; the report estimates its time from what was measured.
"""

from __future__ import annotations

import math

ORACLE_ALPHA, ORACLE_BETA = 0.05, 0.1
# log((1 - beta) / alpha): the log-likelihood ratio at which the oracle stops with a rollback
ORACLE_THRESHOLD = math.log((1.0 - ORACLE_BETA) / ORACLE_ALPHA)


def oracle_minutes(effect: float, standard_error: float, minutes: float) -> float | None:
    """Minutes an SPRT that knew `effect` (harm-oriented, > 0) needs on average, for an estimate whose standard
    error after `minutes` minutes is `standard_error`: its log-likelihood ratio grows by effect^2 / (2 v) a minute,
    v = standard_error^2 x minutes being one minute's variance. None when there is no harm to detect."""
    if not (effect > 0.0 and standard_error > 0.0 and minutes > 0.0) or not math.isfinite(effect * standard_error):
        return None
    per_minute_variance = standard_error**2 * minutes
    return ORACLE_THRESHOLD * 2.0 * per_minute_variance / effect**2
