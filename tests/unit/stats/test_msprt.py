"""Always-valid p-values: the mixture likelihood ratio, its running minimum, and its inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from safedeploy.stats import always_valid_p_values, msprt_p_value


def mixture_ratio(estimate: float, variance: float, tau: float, lower: float, upper: float) -> float:
    """Likelihood ratio of N(theta, v) against N(0, v), averaged over a N(0, tau^2) prior restricted to a range."""
    prior_mass = stats.norm.cdf(upper / tau) - stats.norm.cdf(lower / tau)

    def integrand(theta: float) -> float:
        ratio = math.exp((theta * estimate - theta * theta / 2) / variance)
        return ratio * stats.norm.pdf(theta / tau) / tau / prior_mass

    return integrate.quad(integrand, lower, upper, epsabs=1e-13, epsrel=1e-11)[0]


@pytest.mark.parametrize(("estimate", "alternative", "lower", "upper"), [
    (0.21, "two-sided", -math.inf, math.inf),
    (0.21, "greater", 0.0, math.inf),
    (-0.21, "less", -math.inf, 0.0),
    (-0.05, "greater", 0.0, math.inf),
])  # fmt: skip
def test_p_value_is_the_reciprocal_of_the_mixture_likelihood_ratio(
    estimate: float, alternative: str, lower: float, upper: float
) -> None:
    expected = min(1.0, 1.0 / mixture_ratio(estimate, 0.01, 0.1, lower, upper))
    assert msprt_p_value(estimate, 0.01, tau=0.1, alternative=alternative) == pytest.approx(expected, rel=1e-7)


def test_null_shifts_the_hypothesis() -> None:
    assert msprt_p_value(0.31, 0.01, tau=0.1, null=0.1) == pytest.approx(msprt_p_value(0.21, 0.01, tau=0.1))


def test_path_never_increases_and_stays_a_probability() -> None:
    rng = np.random.default_rng(5)
    looks = np.arange(1, 201)
    estimates = np.cumsum(rng.normal(0.0, 1.0, 200)) / looks
    path = always_valid_p_values(estimates, 1.0 / looks, tau=0.2)
    assert np.all(np.diff(path) <= 0.0)
    assert np.all((path > 0.0) & (path <= 1.0))
    assert msprt_p_value(estimates, 1.0 / looks, tau=0.2) == path[-1]


def test_clear_harm_is_found_and_evidence_the_other_way_is_not() -> None:
    variances = 1.0 / np.arange(100, 2100, 100)
    assert msprt_p_value(np.full(20, 0.3), variances, tau=0.2) < 1e-6
    assert msprt_p_value(np.full(20, -0.3), variances, tau=0.2) == 1.0


def test_extreme_evidence_does_not_overflow() -> None:
    assert msprt_p_value(1e6, 1e-6, tau=1.0) == 0.0
    assert msprt_p_value(-1e6, 1e-6, tau=1.0) == 1.0


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (([0.1], [0.01], 0.0), "tau .* must be positive"),
        (([0.1], [0.0], 0.1), "positive, finite variance"),
        (([0.1, 0.2], [0.01], 0.1), "same length"),
        (([math.nan], [0.01], 0.1), "finite effect"),
    ],
)
def test_bad_inputs_are_refused(arguments: tuple[object, object, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        msprt_p_value(*arguments)  # type: ignore[arg-type]
