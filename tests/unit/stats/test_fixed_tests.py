"""Fixed-horizon tests: parity with scipy and statsmodels, effect sign b - a, and defined edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from safedeploy.stats import mann_whitney, two_proportion_test, welch_t_test, z_test

STATSMODELS_ALTERNATIVE = {"two-sided": "two-sided", "greater": "larger", "less": "smaller"}
ALTERNATIVES = list(STATSMODELS_ALTERNATIVE)


@pytest.fixture
def samples() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    return rng.normal(0.95, 0.02, 80), rng.normal(0.957, 0.03, 60)


@pytest.mark.parametrize("alternative", ALTERNATIVES)
def test_z_test_matches_statsmodels_unequal_variance_z(
    samples: tuple[np.ndarray, np.ndarray], alternative: str
) -> None:
    a, b = samples
    compare = CompareMeans(DescrStatsW(b), DescrStatsW(a))
    statistic, p_value = compare.ztest_ind(alternative=STATSMODELS_ALTERNATIVE[alternative], usevar="unequal")
    interval = compare.zconfint_diff(alternative=STATSMODELS_ALTERNATIVE[alternative], usevar="unequal")
    result = z_test(a, b, alternative)
    assert (result.statistic, result.p_value) == pytest.approx((statistic, p_value), rel=1e-9)
    assert result.ci == pytest.approx(interval, rel=1e-9)
    assert result.effect == pytest.approx(b.mean() - a.mean())
    assert (result.n_a, result.n_b) == (80, 60)


@pytest.mark.parametrize("alternative", ALTERNATIVES)
def test_two_proportion_test_matches_statsmodels(alternative: str) -> None:
    statistic, p_value = proportions_ztest(
        [130, 100], [10_000, 10_000], alternative=STATSMODELS_ALTERNATIVE[alternative]
    )
    result = two_proportion_test(100, 10_000, 130, 10_000, alternative)
    assert (result.statistic, result.p_value) == pytest.approx((statistic, p_value), rel=1e-9)
    assert result.effect == pytest.approx(0.003)


def test_two_proportion_interval_is_the_unpooled_wald_interval() -> None:
    low, high = confint_proportions_2indep(130, 10_000, 100, 10_000, method="wald", compare="diff", alpha=0.05)
    assert two_proportion_test(100, 10_000, 130, 10_000).ci == pytest.approx((low, high), rel=1e-9)


@pytest.mark.parametrize("alternative", ALTERNATIVES)
def test_welch_t_test_matches_scipy(samples: tuple[np.ndarray, np.ndarray], alternative: str) -> None:
    a, b = samples
    expected = stats.ttest_ind(b, a, equal_var=False, alternative=alternative)
    interval = expected.confidence_interval(0.9)
    result = welch_t_test(a, b, alternative, confidence=0.9)
    assert (result.statistic, result.p_value) == pytest.approx((expected.statistic, expected.pvalue), rel=1e-12)
    assert result.ci == pytest.approx((interval.low, interval.high), rel=1e-12)


@pytest.mark.parametrize("alternative", ALTERNATIVES)
def test_mann_whitney_matches_scipy_and_reports_the_hodges_lehmann_shift(
    samples: tuple[np.ndarray, np.ndarray], alternative: str
) -> None:
    a, b = samples
    expected = stats.mannwhitneyu(b, a, alternative=alternative)
    result = mann_whitney(a, b, alternative)
    assert (result.statistic, result.p_value) == pytest.approx((expected.statistic, expected.pvalue), rel=1e-12)
    assert result.effect == pytest.approx(np.median(np.subtract.outer(b, a)), rel=1e-9)
    assert result.ci[0] <= result.effect <= result.ci[1]


def test_mann_whitney_interval_is_the_moses_order_statistic_interval(samples: tuple[np.ndarray, np.ndarray]) -> None:
    a, b = samples
    differences = np.sort(np.subtract.outer(b, a).ravel())
    spread = stats.norm.ppf(0.975) * math.sqrt(a.size * b.size * (a.size + b.size + 1) / 12)
    rank = round(a.size * b.size / 2 - spread)
    expected = (differences[rank - 1], differences[a.size * b.size - rank])
    assert mann_whitney(a, b).ci == pytest.approx(expected, rel=1e-9)


def test_one_sided_alternatives_give_one_sided_intervals(samples: tuple[np.ndarray, np.ndarray]) -> None:
    a, b = samples
    assert z_test(a, b, "greater").ci[1] == math.inf
    assert z_test(a, b, "less").ci[0] == -math.inf


@pytest.mark.parametrize("test", [z_test, welch_t_test])
@pytest.mark.parametrize(
    ("a", "b", "message"),
    [
        ([], [1.0, 2.0], "sample a is empty"),
        ([1.0, 2.0], [3.0], "sample b has 1 value"),
        ([1.0, 1.0, 1.0], [2.0, 2.0], "both samples have zero variance"),
        ([1.0, math.nan], [1.0, 2.0], "sample a contains NaN"),
    ],
)
def test_mean_tests_refuse_input_they_cannot_judge(test: object, a: list[float], b: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        test(a, b)  # type: ignore[operator]


def test_mann_whitney_refuses_an_empty_sample() -> None:
    with pytest.raises(ValueError, match="sample b is empty"):
        mann_whitney([1.0], [])


def test_identical_fleets_without_events_give_a_defined_no_evidence_result() -> None:
    result = two_proportion_test(0, 5_000, 0, 500, "greater")
    assert (result.statistic, result.p_value, result.effect) == (0.0, 1.0, 0.0)
    assert not any(math.isnan(value) for value in result.ci)


def test_identical_constant_samples_under_mann_whitney_are_no_evidence() -> None:
    assert mann_whitney([3.0, 3.0, 3.0], [3.0, 3.0]).p_value == 1.0


@pytest.mark.parametrize(
    ("counts", "message"),
    [
        ((5, 0, 1, 10), "n_a must be positive"),
        ((11, 10, 1, 10), "x_a must be between 0 and n_a"),
        ((1, 10, -1, 10), "x_b must be between 0 and n_b"),
        ((1, 10, 1, math.inf), "x_b and n_b must be finite"),
    ],
)
def test_two_proportion_test_names_bad_counts(counts: tuple[float, float, float, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        two_proportion_test(*counts)


def test_an_unknown_alternative_is_named() -> None:
    with pytest.raises(ValueError, match="alternative must be one of two-sided, greater, less, got 'larger'"):
        z_test([1.0, 2.0], [2.0, 3.0], "larger")
