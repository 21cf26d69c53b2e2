"""Lan-DeMets boundaries by recursive integration, against published tables and an independent integrator."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from safedeploy.stats import exit_probabilities, spending_boundaries
from safedeploy.stats.spending import cumulative_alpha

EQUAL_5 = [0.2, 0.4, 0.6, 0.8, 1.0]

# (fractions, alpha, spending, sides, published boundaries)
PUBLISHED = [
    # Reboussin, DeMets, Kim and Lan (2000), ldbounds: OBF-type, two-sided 0.05, five equal looks
    (EQUAL_5, 0.05, "obf", 2, [4.877, 3.357, 2.680, 2.290, 2.031]),
    # ldbounds::bounds(c(0.10, 0.33, 1), iuse = c(1, 1), alpha = c(0.025, 0.025)): unequal looks
    ([0.10, 0.33, 1.0], 0.05, "obf", 2, [6.9913, 3.7308, 1.9605]),
    # ldbounds, Pocock-type, two-sided 0.05, five equal looks
    (EQUAL_5, 0.05, "pocock", 2, [2.4380, 2.4268, 2.4101, 2.3966, 2.3859]),
    # gsDesign sfLDOF (one-sided 0.025 = two-sided 0.05): two, three and four equal looks
    ([0.5, 1.0], 0.05, "obf", 2, [2.9626, 1.9686]),
    ([1 / 3, 2 / 3, 1.0], 0.05, "obf", 2, [3.7103, 2.5114, 1.9930]),
    ([0.25, 0.5, 0.75, 1.0], 0.05, "obf", 2, [4.3326, 2.9631, 2.3590, 2.0141]),
    # SeqBounds.jl README and tests (one-sided 0.05, OBF-type)
    ([0.25, 0.5, 0.75, 1.0], 0.05, "obf", 1, [3.7496, 2.5399, 2.0160, 1.7201]),
]


@pytest.mark.parametrize(("fractions", "alpha", "spending", "sides", "published"), PUBLISHED)
def test_boundaries_match_published_tables_to_three_decimals(
    fractions: list[float], alpha: float, spending: str, sides: int, published: list[float]
) -> None:
    assert spending_boundaries(fractions, alpha, spending, sides) == pytest.approx(published, abs=5e-4)


def test_one_sided_final_boundary_matches_published_value() -> None:
    assert spending_boundaries(EQUAL_5, 0.05, "obf", sides=1)[-1] == pytest.approx(1.7397, abs=5e-4)


@pytest.mark.parametrize("spending", ["obf", "pocock"])
@pytest.mark.parametrize("sides", [1, 2])
def test_each_look_spends_exactly_what_the_spending_function_releases(spending: str, sides: int) -> None:
    fractions = [0.07, 0.2, 0.35, 0.5, 0.61, 0.8, 0.93, 1.0]
    upper = spending_boundaries(fractions, 0.05, spending, sides)
    lower = [-b for b in upper] if sides == 2 else None
    below, above = exit_probabilities(fractions, upper, lower)
    spent = np.cumsum(np.add(below, above))
    expected = [sides * value for value in cumulative_alpha(spending, 0.05 / sides, fractions)]
    assert spent == pytest.approx(expected, abs=2e-6)


@pytest.mark.parametrize("fractions", [[0.4, 1.0], [0.3, 0.6, 1.0]])
def test_crossing_probability_agrees_with_multivariate_normal_integration(fractions: list[float]) -> None:
    """An independent method: Z_k are jointly normal with corr(Z_i, Z_j) = sqrt(t_i / t_j)."""
    boundaries = spending_boundaries(fractions, 0.025, "pocock", sides=1)
    t = np.array(fractions)
    correlation = np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))
    joint = stats.multivariate_normal(mean=np.zeros(t.size), cov=correlation, abseps=1e-9, releps=1e-9)
    no_crossing = joint.cdf(np.array(boundaries))
    assert 1.0 - no_crossing == pytest.approx(0.025, abs=2e-5)


def test_a_look_too_early_to_spend_anything_can_never_reject() -> None:
    first, final = spending_boundaries([0.001, 1.0], 0.05, "obf", sides=2)
    assert first == math.inf
    assert final == pytest.approx(1.96, abs=1e-3)


def test_stopping_short_of_full_information_keeps_alpha_in_reserve() -> None:
    early_end = spending_boundaries([0.25, 0.5, 0.75], 0.05, "obf", sides=1)
    full = spending_boundaries([0.25, 0.5, 0.75, 1.0], 0.05, "obf", sides=1)
    assert early_end == pytest.approx(full[:3], abs=1e-9)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (([],), "information_fractions is empty"),
        (([0.5, 0.5, 1.0],), "strictly increasing; look 2"),
        (([0.5, 1.2],), r"information_fractions\[1\] = 1.2 is outside \(0, 1\]"),
        (([0.0, 1.0],), r"information_fractions\[0\] = 0.0 is outside"),
        (([1.0], 1.5), "alpha must be a number in"),
        (([1.0], 0.05, "linear"), "spending must be one of obf, pocock"),
        (([1.0], 0.05, "obf", 3), "sides must be 1 or 2"),
    ],
)
def test_bad_input_names_what_is_wrong(arguments: tuple[object, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        spending_boundaries(*arguments)  # type: ignore[arg-type]
