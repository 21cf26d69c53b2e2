from __future__ import annotations

import numpy as np
import pytest

from safedeploy.drift.quality import QualityState, accuracy_check

SETTINGS = {"reference_accuracy": 0.85, "reference_rows": 1250, "margin": 0.02, "alpha": 0.05}


def _run(true_accuracy: float, hours: int, per_hour: int, rng: np.random.Generator) -> int | None:
    state = QualityState()
    for hour in range(1, hours + 1):
        correct = int(rng.binomial(per_hour, true_accuracy))
        if accuracy_check(state, per_hour, correct, **SETTINGS).degraded:
            return hour
    return None


def test_a_model_as_good_as_registered_rarely_alarms_over_a_month_of_hourly_looks() -> None:
    rng = np.random.default_rng(21)
    alarms = sum(_run(0.85, 720, 50, rng) is not None for _ in range(200))
    assert alarms / 200 <= 0.05


def test_a_ten_point_accuracy_drop_is_caught_within_a_day() -> None:
    rng = np.random.default_rng(22)
    hours = [_run(0.75, 720, 50, rng) for _ in range(50)]
    assert all(hour is not None and hour <= 24 for hour in hours)


def test_too_little_feedback_decides_nothing_and_bad_counts_are_refused() -> None:
    state = QualityState()
    check = accuracy_check(state, 40, 0, **SETTINGS)
    assert check.accuracy is None and not check.degraded
    with pytest.raises(ValueError, match="0 <= correct <= received"):
        accuracy_check(state, 5, 6, **SETTINGS)
