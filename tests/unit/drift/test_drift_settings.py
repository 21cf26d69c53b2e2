"""The `drift` section: one model for the stack, the drift job's test and the quality gate's skew check."""

from __future__ import annotations

import pytest

from safedeploy.drift.check import DriftPolicy
from safedeploy.drift.settings import DriftConfig
from safedeploy.errors import ConfigError


def test_the_defaults_are_the_drift_tests_own() -> None:
    drift = DriftConfig()
    assert (drift.alpha, drift.sensitivity, drift.period_looks) == (
        DriftPolicy.alpha,
        DriftPolicy.sensitivity,
        DriftPolicy.period_looks,
    )


def test_the_skew_parameters_come_back_as_the_section() -> None:
    drift = DriftConfig(alpha=0.01, skew_blocks_approval=True)
    assert drift.skew_parameters() == {"block": True, "alpha": 0.01, "sensitivity": 0.1}
    assert DriftConfig.from_skew_parameters(drift.skew_parameters(), "drift") == drift
    assert DriftConfig.from_skew_parameters({}, "drift") == DriftConfig()


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"block": "yes"}, "drift.skew_blocks_approval: 'yes': Input should be a valid boolean"),
        ({"alpha": 0.5}, "drift.alpha: 0.5: Input should be less than 0.5"),
        ({"period_days": 3}, "drift.period_days: unknown key; allowed: block, alpha, sensitivity"),
    ],
)
def test_skew_parameters_the_section_refuses_are_one_line(parameters: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        DriftConfig.from_skew_parameters(parameters, "drift")
    assert str(refused.value) == message
