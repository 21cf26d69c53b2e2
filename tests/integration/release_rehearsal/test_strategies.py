"""The rehearsal plays the strategy it is given, not a canary in disguise: for each of the five other strategies a
bad candidate is stopped by what guards that strategy, and the minutes show that strategy's traffic."""

from __future__ import annotations

from pathlib import Path

import pytest

from rehearsal.scenario import CANDIDATES, rehearsal_world
from safedeploy.guardrails.release_names import PRODUCTION_VARIANT

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BAD = next(candidate for candidate in CANDIDATES if candidate.name == "bad")
# What stops the bad candidate (6 % errors, 80 ms) under each strategy on dev (2 instances, 5 % 5xx alarm). At half
# the traffic the endpoint's noise can still lift its 3.5 % errors past the threshold, so that alarm and the
# canary's may race (SageMaker rolls back on the first to fire); all at once, the fixed alarm alone stops it.
VERDICT, ERROR_RATE = "canary-verdict alarm: SageMaker rolled back", "endpoint-5xx-rate alarm: SageMaker rolled back"
STOPPED_BY = {
    "linear": (VERDICT, ERROR_RATE),
    "rolling": (VERDICT, ERROR_RATE),
    "all_at_once": (ERROR_RATE,),
    "ab": ("ROLLBACK -> rolled-back: ab experiment ended",),
    "shadow": ("ROLLBACK -> rolled-back: shadow experiment ended",),
}


def candidate_share(minute: dict, candidate: str) -> float:
    fleets = minute["fleets"]
    return fleets.get(candidate, {"requests": 0})["requests"] / sum(fleet["requests"] for fleet in fleets.values())


@pytest.mark.parametrize("strategy", sorted(STOPPED_BY))
def test_a_bad_candidate_is_stopped_by_what_guards_the_strategy(tmp_path: Path, strategy: str) -> None:
    with rehearsal_world(tmp_path, lambda _: None, seed=7, strategy=strategy) as rehearsal:
        assert rehearsal.release("live model", None).result == "live"
        bad = rehearsal.release("bad", BAD.behaviour)
    assert (bad.strategy, bad.result) == (strategy, "rolled back")
    assert any(cause in bad.ended_by for cause in STOPPED_BY[strategy]), bad.ended_by
    decisions = {minute["decision"] for minute in bad.minutes}
    # The analysis judged it harmful wherever there is a baseline to compare, whichever alarm fired first.
    assert decisions == {None} if strategy == "all_at_once" else "ROLLBACK" in decisions, decisions
    first, candidate = bad.minutes[0], bad.candidate_fleet
    judged = [minute for minute in bad.minutes if candidate in minute["fleets"]]
    share = sum(candidate_share(minute, candidate) for minute in judged) / len(judged)
    if strategy == "all_at_once":
        assert list(first["fleets"]) == [candidate]  # the new fleet alone from the first minute
    elif strategy == "shadow":
        # The production variant answers every request; the shadow gets copies of about 20 % of them.
        assert sum(first["gateway_statuses"].values()) == first["fleets"][PRODUCTION_VARIANT]["requests"]
        assert 0.1 < share / (1 - share) < 0.3
    elif strategy == "ab":
        assert 0.01 < share < 0.1  # the first weight, 5 %
    else:
        assert 0.4 < share < 0.6  # one of two instances
