from __future__ import annotations

import math

import numpy as np
import pytest

from safedeploy.drift.baseline import compute_baseline
from safedeploy.drift.check import DRIFT, NO_DATA, STABLE, DriftPolicy, DriftState, run_check
from safedeploy.drift.statistics import (
    _log_dirichlet_multinomial,
    concentration,
    holm,
    log_e_value,
    period_p_value,
    psi,
    shiryaev_roberts,
)

REFERENCE = (0.2, 0.3, 0.5)


def test_psi_matches_the_formula() -> None:
    counts = np.array([99.5, 299.5, 599.5]) - 0.5  # smoothing adds the half row back
    shares = np.array([99.5, 299.5, 599.5]) / 998.5
    expected = float(np.sum((shares - np.array(REFERENCE)) * np.log(shares / np.array(REFERENCE))))
    assert psi(REFERENCE, counts) == pytest.approx(expected)
    assert psi(REFERENCE, [0, 0, 0]) == 0.0


@pytest.mark.parametrize("hour_rows", [5, 40])
def test_the_hourly_e_value_has_expectation_one_under_the_reference_predictive(hour_rows: int) -> None:
    """Exact, by enumerating every hour: the null is Dirichlet-multinomial with the training rows as concentration."""
    c, training_rows = concentration(3, 0.1), 2000
    total = null_mass = 0.0
    for first in range(hour_rows + 1):
        for second in range(hour_rows - first + 1):
            counts = np.array([first, second, hour_rows - first - second])
            coefficient = math.lgamma(hour_rows + 1) - sum(math.lgamma(k + 1) for k in counts)
            null = coefficient + _log_dirichlet_multinomial(counts, np.array(REFERENCE) * training_rows)
            null_mass += math.exp(null)
            total += math.exp(null + log_e_value(REFERENCE, counts, c, training_rows))
    assert null_mass == pytest.approx(1.0, rel=1e-9)
    assert total == pytest.approx(1.0, rel=1e-9)


def test_shiryaev_roberts_and_its_period_p_value() -> None:
    assert shiryaev_roberts(-math.inf, math.log(3.0)) == pytest.approx(math.log(3.0))
    assert shiryaev_roberts(math.log(3.0), math.log(2.0)) == pytest.approx(math.log(8.0))
    assert period_p_value(-math.inf, 720) == 1.0
    assert period_p_value(math.log(14400.0), 720) == pytest.approx(0.05)


def test_holm_steps_down() -> None:
    # sorted 0.01 <= 0.05/4, 0.015 <= 0.05/3, 0.03 > 0.05/2: two rejections
    assert holm({"a": 0.03, "b": 0.01, "c": 0.015, "d": 0.9}, 0.05) == {"b", "c"}
    assert holm({"a": 0.02, "b": 0.02}, 0.05) == {"a", "b"}
    assert holm({"a": 0.2}, 0.05) == set()


def _baseline(rng: np.random.Generator):
    table = np.column_stack([rng.normal(50, 10, 5000), rng.random(5000) < 0.4])
    return compute_baseline(table, ("age", "flag"), rng.random(5000))


def _hour(baseline, rng: np.random.Generator, rows: int, shift: float = 0.0) -> dict[str, np.ndarray]:
    age, flag = baseline.features
    return {
        "age": age.counts(rng.normal(50 + shift, 10, rows)),
        "flag": flag.counts(rng.random(rows) < 0.4),
        "prediction_score": baseline.score.counts(rng.random(rows)),
    }


def test_stable_hours_stay_stable_and_a_half_sd_shift_is_caught_in_the_first_hour() -> None:
    rng = np.random.default_rng(11)
    baseline = _baseline(rng)
    policy, state = DriftPolicy(), None
    for hour in range(48):
        check, state = run_check(
            baseline, "d1", _hour(baseline, rng, 400), state, policy, package_arn="p", checked_at=str(hour)
        )
        assert not check.drifted
    check, state = run_check(
        baseline, "d1", _hour(baseline, rng, 400, shift=5.0), state, policy, package_arn="p", checked_at="x"
    )

    assert check.drifted == ("age",)
    verdicts = {column.name: column.verdict for column in check.columns}
    assert verdicts == {"age": DRIFT, "flag": STABLE, "prediction_score": STABLE}
    assert check.look == 49 and state.looks == 49


def test_a_new_baseline_or_a_new_period_starts_afresh_and_an_empty_hour_has_no_data() -> None:
    rng = np.random.default_rng(12)
    baseline = _baseline(rng)
    policy = DriftPolicy(period_looks=3)
    _, state = run_check(
        baseline, "d1", _hour(baseline, rng, 200, shift=5.0), None, policy, package_arn="p", checked_at="1"
    )
    assert state.columns["age"].max_log_r > 10

    check, fresh = run_check(baseline, "d2", {}, state, policy, package_arn="p", checked_at="2")
    assert fresh.looks == 1 and not check.drifted
    assert {column.verdict for column in check.columns} == {NO_DATA}

    state.looks = 3
    _, renewed = run_check(baseline, "d1", {}, state, policy, package_arn="p", checked_at="3")
    assert renewed.looks == 1 and renewed.columns["age"].max_log_r == -math.inf


def test_the_state_survives_json() -> None:
    rng = np.random.default_rng(13)
    baseline = _baseline(rng)
    _, state = run_check(
        baseline, "d1", _hour(baseline, rng, 100), None, DriftPolicy(), package_arn="p", checked_at="1"
    )
    state.columns["never"] = type(state.columns["age"])()
    assert DriftState.from_dict(state.to_dict()) == state


def test_counts_that_do_not_fit_the_bins_are_refused() -> None:
    baseline = _baseline(np.random.default_rng(1))
    with pytest.raises(ValueError, match="age: 3 counts for the baseline's 10 bins"):
        run_check(baseline, "d", {"age": np.ones(3)}, None, DriftPolicy(), package_arn="p", checked_at="1")
