"""Fail closed on a silent fleet: a candidate that should serve and does not, or far too little, is rolled back."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from scipy import stats

from safedeploy.canary.fleets import Comparison, Fleet
from safedeploy.canary.sample_ratio import band, check_sample_ratio
from safedeploy.guardrails.settings import SampleRatioSettings
from safedeploy.stats.binomial import binomial_cdf, binomial_sf
from safedeploy.strategies.ab import AB_TEST
from safedeploy.strategies.canary import CANARY
from testbed.blue_green import Deployment
from tests.unit.canary.conftest import HEALTHY

START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
SETTINGS = SampleRatioSettings(alpha=0.001, silent_minutes=5)
LOOKS = 60


def comparison(fraction: float, *, can_grow: bool = True, since: datetime | None = START) -> Comparison:
    fleet = Fleet("f", (("EndpointName", "e"),))
    kind = CANARY if can_grow else AB_TEST
    return Comparison("e", "e-v2", kind, START, fleet, fleet, fraction, fraction, since, can_grow)


def grid(minutes: int) -> list[datetime]:
    return [START + timedelta(minutes=index) for index in range(minutes)]


def test_the_band_is_a_factor_two_on_the_odds() -> None:
    low, high = band(0.5)
    assert (low, high) == pytest.approx((1 / 3, 2 / 3))
    low, high = band(0.1)
    assert low == pytest.approx((1 / 18) / (1 + 1 / 18)) and high == pytest.approx((2 / 9) / (1 + 2 / 9))


def test_a_silent_candidate_is_a_mismatch_naming_the_counts(blue_green: Callable[..., Deployment]) -> None:
    deployment = blue_green()
    outcomes = []
    for _ in range(8):
        deployment.serve_minute(1000, HEALTHY, HEALTHY)
        outcomes.append(deployment.analyze())
    assert {outcome.decision for outcome in outcomes} <= {"CONTINUE"}
    for _ in range(6):
        deployment.serve_minute(900, HEALTHY, HEALTHY, candidate_requests=0)
        outcomes.append(deployment.analyze())
    rolled_back = [outcome for outcome in outcomes if outcome.decision == "ROLLBACK"]
    assert rolled_back and all(outcome.verdict_metric == 1 for outcome in rolled_back)
    # At 900 requests a minute four silent minutes of the last five settled ones are far below the plan (the newest
    # minute is judged once it has settled).
    assert outcomes.index(rolled_back[0]) == 8 + 4
    reason = rolled_back[0].record["reasons"][0]
    assert reason.startswith("candidate fleet received 100 of 4600 requests (2.2 %) in the last 5 minutes while the")
    assert rolled_back[0].record["sample_ratio"]["status"] == "mismatch"


def test_a_candidate_silent_for_the_window_received_no_requests() -> None:
    minutes = grid(13)  # the newest minute has not settled yet
    baseline, candidate = np.full(13, 20.0), np.r_[np.full(7, 20.0), np.zeros(6)]
    found = check_sample_ratio(comparison(0.5), minutes, baseline, candidate, SETTINGS, LOOKS)
    assert found.mismatch == (
        "candidate fleet received no requests in the last 5 minutes while the baseline served 100; planned 50.0 % "
        "(sample-ratio mismatch, p = 2.5e-18 < 8.3e-06)"
    )


def test_a_candidate_served_far_below_its_plan_is_a_mismatch(blue_green: Callable[..., Deployment]) -> None:
    deployment = blue_green()
    outcome = deployment.analyze()
    for _ in range(6):
        deployment.serve_minute(1000, HEALTHY, HEALTHY, candidate_requests=10)  # 1 % where 10 % was planned
        outcome = deployment.analyze()
        if outcome.decision == "ROLLBACK":
            break
    assert outcome.decision == "ROLLBACK"
    assert (
        "candidate fleet received" in outcome.record["reasons"][0] and "planned 10.0 %" in outcome.record["reasons"][0]
    )
    assert outcome.record["traffic"]["measured_fraction"] == pytest.approx(10 / 1000, abs=1e-9)


def test_no_mismatch_while_the_new_fleet_is_still_provisioning(blue_green: Callable[..., Deployment]) -> None:
    deployment = blue_green(baking=False)
    for _ in range(10):
        deployment.serve_minute(1000, HEALTHY, HEALTHY, candidate_requests=0)
        outcome = deployment.analyze()
        assert outcome.decision == "CONTINUE", outcome.detail
    assert outcome.record["sample_ratio"]["status"] == "not applicable"


def test_a_blue_green_candidate_may_grow_but_an_ab_one_may_not() -> None:
    minutes = grid(10)
    baseline, candidate = np.full(10, 300.0), np.full(10, 700.0)  # 70 % where 10 % was planned
    assert check_sample_ratio(comparison(0.1), minutes, baseline, candidate, SETTINGS, LOOKS).mismatch is None
    found = check_sample_ratio(comparison(0.1, can_grow=False), minutes, baseline, candidate, SETTINGS, LOOKS)
    assert found.mismatch is not None and found.mismatch.startswith(
        "baseline fleet received 1500 of 5000 requests in the last 5"
    )


def test_a_silent_baseline_in_an_ab_test_is_a_mismatch() -> None:
    minutes = grid(11)
    baseline, candidate = np.r_[np.full(4, 500.0), np.full(7, np.nan)], np.full(11, 500.0)
    found = check_sample_ratio(comparison(0.5, can_grow=False), minutes, baseline, candidate, SETTINGS, LOOKS)
    assert found.mismatch is not None and found.mismatch.startswith("baseline fleet received no requests in the last 5")


def test_no_traffic_at_all_is_no_evidence() -> None:
    found = check_sample_ratio(comparison(0.5), grid(10), np.zeros(10), np.zeros(10), SETTINGS, LOOKS)
    assert found.mismatch is None


def simulate_false_alarms(true_fraction: float, planned: float, runs: int, seed: int) -> float:
    """Deployments of LOOKS minute looks with bursty traffic, the candidate's count binomial at `true_fraction`."""
    rng = np.random.default_rng(seed)
    settings = SampleRatioSettings(alpha=0.05, silent_minutes=5)
    looks = 30
    alarms = 0
    for _ in range(runs):
        totals = rng.negative_binomial(2, 2 / (2 + 200), size=looks)  # mean 200/min, heavy minute-to-minute bursts
        candidate = rng.binomial(totals, true_fraction).astype(float)
        baseline = totals - candidate
        minutes = grid(looks)
        for look in range(2, looks + 1):
            found = check_sample_ratio(
                comparison(planned, can_grow=False), minutes[:look], baseline[:look], candidate[:look], settings, looks
            )
            if found.mismatch:
                alarms += 1
                break
    return alarms / runs


@pytest.mark.slow
def test_false_alarms_stay_below_alpha_over_a_deployment_even_at_the_band_edge() -> None:
    """alpha 0.05 per deployment, 30 looks: at the plan no alarm; at the band's edge (the worst case) at most alpha."""
    assert simulate_false_alarms(0.1, 0.1, runs=200, seed=1) == 0.0
    edge = band(0.1)[0]
    rate = simulate_false_alarms(edge, 0.1, runs=300, seed=2)
    assert rate <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 300), rate


def test_the_binomial_tail_is_the_exact_one() -> None:
    """Minute 0 is skipped (routing settles) and minute 8 has not settled; then the candidate's 30 of 100 at the
    band's low edge of a 50 % plan."""
    found = check_sample_ratio(comparison(0.5), grid(9), np.full(9, 10.0), np.r_[np.full(4, 10.0), np.zeros(5)],
                               SETTINGS, LOOKS)  # fmt: skip
    since = found.details["since_traffic_began"]
    assert (since["minutes"], since["candidate"], since["baseline"]) == (7, 30, 70)
    assert since["p_too_few"] == pytest.approx(stats.binom.cdf(30, 100, 1 / 3))
    assert found.details["last_5_minutes"]["p_too_few"] == pytest.approx(stats.binom.cdf(10, 60, 1 / 3))


def test_late_and_lost_minutes_are_missing_not_zero() -> None:
    """A fleet-minute CloudWatch has not returned (NaN) drops that minute from the split, whichever fleet lacks it:
    four of five recent candidate minutes missing is no evidence, where the same minutes as zeros would be."""
    baseline = np.full(12, 50.0)
    candidate = np.r_[np.full(6, 50.0), np.nan, np.nan, 50.0, np.nan, np.nan, 50.0]
    found = check_sample_ratio(comparison(0.5), grid(12), baseline, candidate, SETTINGS, LOOKS)
    assert found.mismatch is None
    assert found.details["last_5_minutes"]["candidate"] == found.details["last_5_minutes"]["baseline"] == 50
    zeros = check_sample_ratio(comparison(0.5), grid(12), baseline, np.nan_to_num(candidate), SETTINGS, LOOKS)
    assert zeros.mismatch is not None


def test_a_fleet_that_publishes_nothing_for_the_window_is_silent() -> None:
    """No datapoints at all through `silent_minutes` settled minutes while the other fleet serves every one of
    them: a dead fleet may publish nothing rather than zeros. One minute fewer is not yet a mismatch."""
    baseline = np.full(12, 50.0)
    candidate = np.r_[np.full(6, 50.0), np.full(6, np.nan)]
    found = check_sample_ratio(comparison(0.5), grid(12), baseline, candidate, SETTINGS, LOOKS)
    assert found.mismatch is not None and found.mismatch.startswith(
        "candidate fleet received no requests in the last 5"
    )
    found = check_sample_ratio(comparison(0.5), grid(11), baseline[:11], candidate[:11], SETTINGS, LOOKS)
    assert found.mismatch is None


@pytest.mark.parametrize(
    ("k", "n", "p"),
    [(0, 40, 1 / 3), (30, 100, 1 / 3), (3, 10, 0.5), (400, 4600, 0.0526), (29_000, 60_000, 0.5), (5, 5, 0.2)],
)
def test_the_binomial_tails_match_scipy(k: int, n: int, p: float) -> None:
    assert binomial_cdf(k, n, p) == pytest.approx(stats.binom.cdf(k, n, p), rel=1e-9, abs=1e-300)
    assert binomial_sf(k, n, p) == pytest.approx(stats.binom.sf(k - 1, n, p), rel=1e-9, abs=1e-300)
    assert binomial_cdf(0, 40, 1 / 3) == pytest.approx((2 / 3) ** 40)
