"""The error-count test stays valid when errors are rare and clustered; latency is judged on per-minute medians;
a candidate that turns bad mid-bake is caught by the late window; a blue/green verdict never stops watching."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from safedeploy.stats import (
    CanaryObservations,
    CanaryPolicy,
    CountSeries,
    MedianSeries,
    MetricObservations,
    MetricPolicy,
    canary_verdict,
)
from safedeploy.stats.stratified_counts import dispersion, exact_upper_tails, sandwich_freedom, stratified_harm_z


def test_one_candidate_error_against_none_is_no_evidence_at_a_small_share() -> None:
    """A pooled z gives sqrt(n_a / n_b) = 3.0 here; exactly, one error lands on a 10 % share 10 % of the time."""
    z, _ = stratified_harm_z(np.array([0.0]), np.array([900.0]), np.array([1.0]), np.array([100.0]))
    assert z[0] == pytest.approx(stats.norm.isf(0.1), abs=1e-9)


def test_the_exact_tail_is_the_binomial_one_for_a_constant_share() -> None:
    events_a, events_b = np.array([3.0, 1.0, 4.0]), np.array([2.0, 0.0, 3.0])
    tails = exact_upper_tails(events_a, events_b, np.full(3, 0.25))
    expected = [stats.binom.sf(b - 1, a + b, 0.25) for a, b in ((3, 2), (4, 2), (8, 5))]
    assert tails == pytest.approx(expected, rel=1e-9)


def test_a_changing_share_is_conditioned_on_minute_by_minute() -> None:
    """Two minutes, shares 0.5 and 0.1: the candidate's total is a sum of two binomials (Poisson-binomial)."""
    tails = exact_upper_tails(np.array([1.0, 1.0]), np.array([1.0, 1.0]), np.array([0.5, 0.1]))
    pmf = np.convolve(stats.binom.pmf(range(3), 2, 0.5), stats.binom.pmf(range(3), 2, 0.1))
    assert tails[-1] == pytest.approx(pmf[2:].sum(), rel=1e-12)


def test_bursts_inflate_the_dispersion_and_quiet_minutes_do_not_lower_it() -> None:
    events = np.array([6.0, 0.0, 0.0, 5.0, 0.0, 7.0] * 5)
    bursty_b = np.array([6.0, 0.0, 0.0, 0.0, 0.0, 7.0] * 5)  # whole bursts on one fleet or the other
    shares = np.full(events.size, 0.5)
    residuals = bursty_b - shares * events
    phi, _ = dispersion(residuals, shares * (1 - shares) * events, events)
    assert phi[-1] > 3.0
    steady = np.array([1.0] * 30)
    alternating = np.array([1.0, 0.0] * 15)
    assert dispersion(alternating - 0.5, np.full(30, 0.25), steady)[0][-1] >= 1.0


@pytest.mark.slow
def test_rare_clustered_errors_at_a_small_share_keep_the_false_rollback_rate() -> None:
    """2,000 bakes at a 10 % share, 1 % errors in gamma-distributed fleet-minute bursts: at most 0.05 + 2 s.e."""
    rng = np.random.default_rng(7)
    policy = CanaryPolicy({"error_rate": MetricPolicy("proportion", "increase", 0.01, horizon=2400)})
    rollbacks = 0
    for _ in range(2000):
        n_a, n_b = rng.poisson(90, 40).astype(float), rng.poisson(10, 40).astype(float)
        rates = [0.01 * rng.gamma(0.5, 2.0, 40) for _ in range(2)]
        e_a, e_b = (
            rng.binomial(n.astype(int), np.minimum(r, 1)).astype(float) for n, r in zip((n_a, n_b), rates, strict=True)
        )
        observations = CanaryObservations(
            {"error_rate": MetricObservations(CountSeries(e_a, n_a), CountSeries(e_b, n_b))}
        )
        rollbacks += canary_verdict(observations, policy).decision == "ROLLBACK"
    assert rollbacks / 2000 <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / 2000)


def medians(rng: np.random.Generator, minutes: int, ratio: float, sigma: float, onset: int = 0) -> MetricObservations:
    """Per-minute p50 of lognormal latency, both fleets sharing each minute's load (drift)."""
    counts = rng.poisson(50, (2, minutes)).astype(float)
    load = rng.normal(0, 0.3, minutes)
    p50 = np.empty((2, minutes))
    for fleet in (0, 1):
        for minute in range(minutes):
            shift = math.log(ratio) if fleet == 1 and minute >= onset else 0.0
            sample = np.exp(
                math.log(100) + load[minute] + shift + sigma * rng.standard_normal(int(counts[fleet, minute]))
            )
            p50[fleet, minute] = np.median(sample) if sample.size else np.nan
    return MetricObservations(MedianSeries(counts[0], p50[0]), MedianSeries(counts[1], p50[1]))


def median_policy(late: float = 0.0, horizon: int = 1500) -> CanaryPolicy:
    metric = MetricPolicy("median", "increase", 0.1, margin_type="relative", horizon=horizon, late_alpha_share=late)
    return CanaryPolicy({"latency_p50_ms": metric}, when_inconclusive="CONTINUE", promote=False)


def test_a_heavy_tailed_twenty_percent_slowdown_is_caught_on_the_median() -> None:
    verdict = canary_verdict(CanaryObservations({"latency_p50_ms": medians(np.random.default_rng(3), 60, 1.2, 1.5)}),
                             median_policy(horizon=2800))  # fmt: skip
    assert verdict.decision == "ROLLBACK"
    assert verdict.metrics["latency_p50_ms"]["effect"] == pytest.approx(math.log(1.2), abs=0.12)


def test_a_median_metric_needs_a_relative_margin() -> None:
    with pytest.raises(ValueError, match="margin_type must be relative"):
        MetricPolicy("median", "increase", 5.0, horizon=100)


def test_the_late_window_catches_a_candidate_that_turns_bad_mid_bake() -> None:
    """+30 % from minute 20 of 40: diluted from the start, undiluted in the window after half the horizon."""
    data = CanaryObservations({"latency_p50_ms": medians(np.random.default_rng(11), 40, 1.3, 0.8, onset=20)})
    with_late = canary_verdict(data, median_policy(late=0.7, horizon=2000))
    assert with_late.decision == "ROLLBACK"
    assert with_late.metrics["latency_p50_ms"]["late_statistic"] >= with_late.metrics["latency_p50_ms"]["late_boundary"]


def test_a_blue_green_verdict_keeps_watching_after_non_inferiority() -> None:
    """Healthy for 30 minutes, then harmful: promote=False never stops at the early non-inferiority."""
    data = CanaryObservations({"latency_p50_ms": medians(np.random.default_rng(5), 60, 1.5, 0.5, onset=30)})
    policy = median_policy(late=0.7, horizon=2900)
    assert canary_verdict(data, policy).decision == "ROLLBACK"
    promoting = CanaryPolicy(policy.metrics, when_inconclusive="CONTINUE")
    assert canary_verdict(data, promoting).decision == "PROMOTE"


def test_the_alpha_split_does_not_depend_on_whether_the_late_window_began() -> None:
    """The verdict a minute later replays the same decision at the same minute (the split is fixed)."""
    data = medians(np.random.default_rng(2), 40, 1.25, 0.8)
    policy = median_policy(late=0.7, horizon=1800)
    whole = canary_verdict(CanaryObservations({"latency_p50_ms": data}), policy)
    assert whole.decision == "ROLLBACK"
    for upto in range(1, 41):
        prefix = CanaryObservations.from_dict(
            {"metrics": {"latency_p50_ms": {fleet: {k: v[:upto] for k, v in series.items()}
                                            for fleet, series in data.to_dict().items()}}}
        )  # fmt: skip
        verdict = canary_verdict(prefix, policy)
        if verdict.decision != "CONTINUE":
            assert (verdict.decision, verdict.period) == (whole.decision, whole.period)
            break


def test_the_sandwich_freedom_counts_minutes_by_the_variance_they_carry() -> None:
    """Equal minutes give J - 1; one busy minute carrying nearly all the variance leaves about one."""
    assert sandwich_freedom(np.full(20, 0.5))[-1] == pytest.approx(19.0)
    assert sandwich_freedom(np.array([0.25] * 20 + [50.0]))[-1] == pytest.approx(1.0)
    assert sandwich_freedom(np.array([0.0, 0.25, 0.0, 0.25]))[-1] == pytest.approx(1.0)


@pytest.mark.slow
def test_overdispersed_errors_in_bursty_traffic_keep_the_false_rollback_rate() -> None:
    """1,000 healthy bakes at half the traffic, gamma-Poisson traffic (CV 1) and gamma(0.5) fleet-minute error
    bursts, the late window on: at most 0.05 + 2 s.e. (the minute-level sandwich with J - 1 freedom gave 0.07)."""
    rng = np.random.default_rng(13)
    metric = MetricPolicy("proportion", "increase", 0.01, horizon=2700, late_alpha_share=0.85, last_look_minute=54)
    policy = CanaryPolicy({"error_rate": metric}, when_inconclusive="CONTINUE", promote=False)
    rollbacks = 0
    for _ in range(1000):
        total = rng.poisson(100 * rng.gamma(1.0, 1.0, 54))
        n_b = rng.binomial(total, 0.5).astype(float)
        n_a = total - n_b
        e_a, e_b = (rng.binomial(n.astype(int), np.minimum(0.01 * rng.gamma(0.5, 2.0, 54), 1)).astype(float)
                    for n in (n_a, n_b))  # fmt: skip
        observations = CanaryObservations(
            {"error_rate": MetricObservations(CountSeries(e_a, n_a), CountSeries(e_b, n_b))}
        )
        rollbacks += canary_verdict(observations, policy).decision == "ROLLBACK"
    assert rollbacks / 1000 <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / 1000)


def test_quieter_traffic_ends_the_test_at_the_last_look_minute() -> None:
    """Half the declared traffic: the horizon is never reached, so without a last look minute the test never
    finishes; with it, minute 40 (counted from the candidate's first traffic) is a final look spending the rest."""
    data = medians(np.random.default_rng(4), 45, 1.0, 0.8)
    silent = MetricObservations(
        MedianSeries(np.r_[[50.0] * 3, data.baseline.sample_count], np.r_[[100.0] * 3, data.baseline.median]),
        MedianSeries(np.r_[[0.0] * 3, data.candidate.sample_count], np.r_[[0.0] * 3, data.candidate.median]),
    )  # three minutes before the candidate served
    observations = CanaryObservations({"latency_p50_ms": silent})
    metric = MetricPolicy("median", "increase", 0.1, margin_type="relative", horizon=4000)
    unlimited = CanaryPolicy({"latency_p50_ms": metric}, when_inconclusive="CONTINUE", promote=False)
    ending = CanaryPolicy({"latency_p50_ms": replace(metric, last_look_minute=40)}, "holm", "group", "CONTINUE", False)
    details = canary_verdict(observations, unlimited).metrics["latency_p50_ms"]
    assert details["look_information_fraction"] < 0.6
    verdict = canary_verdict(observations, ending)
    assert verdict.decision == "CONTINUE"
    final = verdict.metrics["latency_p50_ms"]
    assert final["look_information_fraction"] == 1.0
    assert final["look_period"] == 3 + 40 - 1
    assert final["boundary"] < details["boundary"]
