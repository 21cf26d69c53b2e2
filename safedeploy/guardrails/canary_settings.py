"""The `endpoint` sections the canary metrics read: `canary` (what the canary analysis tolerates and the traffic it
plans for) and `alarms` (the rollback alarms' thresholds).

Their own module, below `settings` and the bake planning that both read them, so nothing imports in a circle.
No boto3 here: synth imports it.
"""

from __future__ import annotations

from pydantic import ValidationInfo, field_validator

from safedeploy.section_fields import Flag, Integer, Number, PositiveNumber
from safedeploy.sections import Section, rule
from safedeploy.stats.boundaries import MAX_LOOKS

# SageMaker's invocation timeout is 60 s: a latency threshold above it can never fire.
MAX_LATENCY_MS = 60_000


class AlarmThresholds(Section):
    # Above the noise of the default 1 % baseline at 100 requests a minute (see `alarm_noise`).
    error_rate_5xx_percent: PositiveNumber(100) = 5.0
    model_latency_ms: PositiveNumber(MAX_LATENCY_MS) = 500.0


class CanarySettings(Section):
    """What the canary analysis tolerates, and the traffic it can expect (which sets its sequential horizon).

    Margins are non-inferiority margins: how much worse the candidate may be and still be promoted. The error-rate
    and accuracy margins are absolute fractions, the latency margin a percentage of the baseline's mean latency.
    """

    error_rate_margin: PositiveNumber(0.5) = 0.01
    latency_margin_percent: PositiveNumber(100) = 10.0
    accuracy_margin: PositiveNumber(0.5) = 0.02
    # A one-sided harm test above 20 % false alarms would roll back good models routinely.
    alpha: PositiveNumber(0.2) = 0.05
    looks: Integer(1, MAX_LOOKS) = 10
    min_samples: Integer(10, 10_000_000) = 200
    # The quietest hour's traffic: the bake is planned so that even then it reaches the power.
    expected_requests_per_minute: Integer(1, 10_000_000) = 100
    baseline_error_rate: PositiveNumber(0.3) = 0.01
    error_rate_mde_ratio: PositiveNumber(100) = 3.0
    latency_mde_percent: PositiveNumber(500) = 20.0
    # A slowdown this small is no harm: the latency harm test's null is "at most this much slower".
    latency_tolerance_percent: Number(0, 100) = 0.0
    # The standard deviation of log latency: 0.3 is tight, 1.5 very heavy-tailed.
    latency_log_sigma: PositiveNumber(5) = 0.8
    power: PositiveNumber(0.999) = 0.9
    late_alpha_share: PositiveNumber(0.9) = 0.85
    require_power: Flag = True

    @field_validator("error_rate_mde_ratio")
    @classmethod
    def _detectable_error_rate(cls, ratio: float, info: ValidationInfo) -> float:
        baseline = info.data.get("baseline_error_rate", cls.model_fields["baseline_error_rate"].default)
        if ratio <= 1.0 or baseline * ratio >= 1.0:
            raise rule(f"{ratio:g} must exceed 1 and keep baseline_error_rate x ratio below 1")
        return ratio

    @field_validator("latency_tolerance_percent")
    @classmethod
    def _tolerance_below_mde(cls, tolerance: float, info: ValidationInfo) -> float:
        mde = info.data.get("latency_mde_percent", cls.model_fields["latency_mde_percent"].default)
        if tolerance >= mde:
            raise rule(
                f"{tolerance:g} must be below latency_mde_percent ({mde:g}): the bake could not catch what it tolerates"
            )
        return tolerance
