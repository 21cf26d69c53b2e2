"""The `drift` section of cdk.json: the drift job's schedule and error rate, and the training-serving skew check the
quality gate runs with the same test. The stack and the quality gate's Lambda read it with this one model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from safedeploy.drift.check import DriftPolicy
from safedeploy.errors import ConfigError
from safedeploy.sections import Section, validated

# The quality gate's `skew` parameters and the drift fields they carry (the pipeline's JSON keeps its short names).
SKEW_PARAMETERS = {"block": "skew_blocks_approval", "alpha": "alpha", "sensitivity": "sensitivity"}


class DriftConfig(Section):
    """The drift job: how often it looks, and the chance of any false drift alarm per period of `period_days`; the
    test's own defaults are `DriftPolicy`'s (a 30-day period of hourly looks is its 720)."""

    schedule_minutes: int = Field(default=60, ge=5, le=1440)
    alpha: float = Field(default=DriftPolicy.alpha, gt=0.0, lt=0.5)
    period_days: int = Field(default=30, ge=1, le=366)
    sensitivity: float = Field(default=DriftPolicy.sensitivity, gt=0.0, le=10.0)
    accuracy_margin: float = Field(default=0.02, ge=0.0, lt=0.5)
    # Training-serving skew is always shown to the approver; true also fails the QualityGate on it.
    skew_blocks_approval: bool = False

    @property
    def period_looks(self) -> int:
        return max(1, self.period_days * 24 * 60 // self.schedule_minutes)

    def skew_parameters(self) -> dict[str, Any]:
        """What the QualityGate action is given: whether skew blocks, and the test it is judged by."""
        return {short: getattr(self, name) for short, name in SKEW_PARAMETERS.items()}

    @classmethod
    def from_skew_parameters(cls, raw: Mapping[str, Any], path: str) -> DriftConfig:
        """The section back from `skew_parameters()` (a key left out takes the section's default)."""
        unknown = sorted(set(raw) - set(SKEW_PARAMETERS))
        if unknown:
            raise ConfigError(f"{path}.{unknown[0]}: unknown key; allowed: {', '.join(SKEW_PARAMETERS)}")
        fields = {SKEW_PARAMETERS[short]: value for short, value in raw.items()}
        return validated(cls, fields, path)
