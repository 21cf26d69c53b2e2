"""Sample sizes (statsmodels parity, the seed's worked example) and canary planning (samples, bake time)."""

from __future__ import annotations

import math

import pytest
from statsmodels.stats.power import NormalIndPower, normal_sample_size_one_tail

from safedeploy.stats import (
    exit_probabilities,
    group_sequential_design,
    plan_canary,
    sample_size_means,
    sample_size_proportions,
)


def test_seed_worked_example_needs_63_per_group() -> None:
    assert sample_size_means(0.02, 0.02, 0.01) == 63


@pytest.mark.parametrize(("power", "sides"), [(0.8, 2), (0.9, 2), (0.8, 1), (0.95, 1)])
def test_means_match_statsmodels_normal_power(power: float, sides: int) -> None:
    alternative = "two-sided" if sides == 2 else "larger"
    expected = NormalIndPower().solve_power(effect_size=0.25, alpha=0.05, power=power, alternative=alternative)
    assert sample_size_means(2.0, 2.0, 0.5, power=power, sides=sides) == math.ceil(expected)


@pytest.mark.parametrize(("p_a", "p_b", "sides"), [(0.01, 0.015, 2), (0.9, 0.87, 2), (0.02, 0.03, 1)])
def test_proportions_match_statsmodels_with_pooled_null_variance(p_a: float, p_b: float, sides: int) -> None:
    pooled = (p_a + p_b) / 2
    expected = normal_sample_size_one_tail(
        p_b - p_a,
        0.8,
        0.05 / sides,
        std_null=math.sqrt(2 * pooled * (1 - pooled)),
        std_alternative=math.sqrt(p_a * (1 - p_a) + p_b * (1 - p_b)),
    )
    assert sample_size_proportions(p_a, p_b, sides=sides) == math.ceil(expected)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: sample_size_means(0.02, 0.02, 0.0), "mde must be a finite, non-zero number"),
        (lambda: sample_size_means(-1.0, 0.02, 0.01), "sigma_a must be a positive number"),
        (lambda: sample_size_means(1.0, 1.0, 0.1, power=1.0), "power must be a number in"),
        (lambda: sample_size_proportions(0.0, 0.1), r"p_a must be a proportion in \(0, 1\)"),
        (lambda: sample_size_proportions(0.1, 0.1), "no difference to detect"),
    ],
)
def test_sample_size_input_errors_name_the_argument(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


def test_a_single_look_design_is_the_fixed_test() -> None:
    design = group_sequential_design(1, power=0.9)
    assert design.inflation == pytest.approx(1.0, abs=1e-6)
    assert design.expected_fraction_under_effect == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("looks", [5, 10, 20])
def test_inflated_horizon_restores_the_design_power_and_saves_a_quarter_on_average(looks: int) -> None:
    design = group_sequential_design(looks, alpha=0.05, power=0.9, spending="obf", sides=1)
    fixed_drift = 1.6448536269514722 + 1.2815515655446004
    fractions = [k / looks for k in range(1, looks + 1)]
    _, crossing = exit_probabilities(fractions, design.boundaries, drift=fixed_drift * math.sqrt(design.inflation))
    assert sum(crossing) == pytest.approx(0.9, abs=1e-5)
    assert 1.0 < design.inflation < 1.07
    assert design.expected_fraction_under_effect <= 0.75


def test_plan_turns_traffic_into_samples_and_bake_minutes() -> None:
    plan = plan_canary("proportion", 0.01, 0.005, requests_per_minute=600, canary_share=0.1, power=0.9, looks=10)
    assert plan.fixed_samples_baseline == pytest.approx(9 * plan.fixed_samples_candidate, abs=9)
    assert plan.horizon_samples == pytest.approx(plan.fixed_samples_candidate * plan.inflation, abs=1.5)
    assert plan.bake_minutes == pytest.approx(plan.horizon_samples / 60)
    assert plan.expected_samples_under_effect < plan.fixed_samples_candidate < plan.horizon_samples


def test_plan_with_even_split_agrees_with_the_one_sided_sample_size() -> None:
    plan = plan_canary("mean", 120.0, 5.0, requests_per_minute=100, canary_share=0.5, sigma=30.0, looks=1)
    assert plan.fixed_samples_candidate == sample_size_means(30.0, 30.0, 5.0, power=0.9, sides=1)
    assert plan.horizon_samples == plan.fixed_samples_candidate


def test_a_smaller_canary_share_needs_a_longer_bake() -> None:
    small = plan_canary("proportion", 0.01, 0.005, requests_per_minute=600, canary_share=0.05)
    large = plan_canary("proportion", 0.01, 0.005, requests_per_minute=600, canary_share=0.25)
    assert small.bake_minutes > large.bake_minutes


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"kind": "mean", "baseline": 100.0}, "sigma .* is required for a mean metric"),
        ({"canary_share": 1.0}, r"canary_share must be a proportion in \(0, 1\)"),
        ({"requests_per_minute": 0.0}, "requests_per_minute must be a positive number"),
        ({"kind": "quantile"}, "kind must be 'proportion' or 'mean'"),
        ({"baseline": 0.998}, r"baseline \+ mde must be a proportion"),
    ],
)
def test_plan_input_errors_name_the_setting(arguments: dict[str, object], message: str) -> None:
    values: dict[str, object] = {
        "kind": "proportion",
        "baseline": 0.01,
        "mde": 0.005,
        "requests_per_minute": 600.0,
        "canary_share": 0.1,
    }
    with pytest.raises(ValueError, match=message):
        plan_canary(**(values | arguments))  # type: ignore[arg-type]
