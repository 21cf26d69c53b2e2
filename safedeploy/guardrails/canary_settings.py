"""The `endpoint` sections the canary metrics read: `canary` (what the canary analysis tolerates and the traffic it
plans for) and `alarms` (the rollback alarms' thresholds).

Their own module, below `settings` and the bake planning that both read them, so nothing imports in a circle.
No boto3 here: synth imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from safedeploy.errors import ConfigError
from safedeploy.guardrails.setting_reader import SettingReader
from safedeploy.stats.boundaries import MAX_LOOKS

# SageMaker's invocation timeout is 60 s: a latency threshold above it can never fire.
MAX_LATENCY_MS = 60_000


@dataclass(frozen=True)
class AlarmThresholds:
    # Above the noise of the default 1 % baseline at 100 requests a minute (see `alarm_noise`).
    error_rate_5xx_percent: float = 5.0
    model_latency_ms: float = 500.0

    @classmethod
    def read(cls, reader: SettingReader) -> AlarmThresholds:
        thresholds = cls(
            error_rate_5xx_percent=reader.positive_number("error_rate_5xx_percent", cls.error_rate_5xx_percent, 100),
            model_latency_ms=reader.positive_number("model_latency_ms", cls.model_latency_ms, MAX_LATENCY_MS),
        )
        reader.finish()
        return thresholds


@dataclass(frozen=True)
class CanarySettings:
    """What the canary analysis tolerates, and the traffic it can expect (which sets its sequential horizon).

    Margins are non-inferiority margins: how much worse the candidate may be and still be promoted. The error-rate
    and accuracy margins are absolute fractions, the latency margin a percentage of the baseline's mean latency.
    """

    error_rate_margin: float = 0.01
    latency_margin_percent: float = 10.0
    accuracy_margin: float = 0.02
    alpha: float = 0.05
    looks: int = 10
    min_samples: int = 200
    expected_requests_per_minute: int = 100
    baseline_error_rate: float = 0.01
    error_rate_mde_ratio: float = 3.0
    latency_mde_percent: float = 20.0
    latency_tolerance_percent: float = 0.0
    latency_log_sigma: float = 0.8
    power: float = 0.9
    late_alpha_share: float = 0.85
    require_power: bool = True

    @classmethod
    def read(cls, reader: SettingReader) -> CanarySettings:
        canary = cls(
            error_rate_margin=reader.positive_number("error_rate_margin", cls.error_rate_margin, 0.5),
            latency_margin_percent=reader.positive_number("latency_margin_percent", cls.latency_margin_percent, 100),
            accuracy_margin=reader.positive_number("accuracy_margin", cls.accuracy_margin, 0.5),
            # A one-sided harm test above 20 % false alarms would roll back good models routinely.
            alpha=reader.positive_number("alpha", cls.alpha, 0.2),
            looks=reader.integer("looks", cls.looks, 1, MAX_LOOKS),
            min_samples=reader.integer("min_samples", cls.min_samples, 10, 10_000_000),
            # The quietest hour's traffic: the bake is planned so that even then it reaches the power.
            expected_requests_per_minute=reader.integer(
                "expected_requests_per_minute", cls.expected_requests_per_minute, 1, 10_000_000
            ),
            baseline_error_rate=reader.positive_number("baseline_error_rate", cls.baseline_error_rate, 0.3),
            error_rate_mde_ratio=reader.positive_number("error_rate_mde_ratio", cls.error_rate_mde_ratio, 100),
            latency_mde_percent=reader.positive_number("latency_mde_percent", cls.latency_mde_percent, 500),
            # A slowdown this small is no harm: the latency harm test's null is "at most this much slower".
            latency_tolerance_percent=reader.number("latency_tolerance_percent", cls.latency_tolerance_percent, 0, 100),
            # The standard deviation of log latency: 0.3 is tight, 1.5 very heavy-tailed.
            latency_log_sigma=reader.positive_number("latency_log_sigma", cls.latency_log_sigma, 5),
            power=reader.positive_number("power", cls.power, 0.999),
            late_alpha_share=reader.positive_number("late_alpha_share", cls.late_alpha_share, 0.9),
            require_power=reader.boolean("require_power", cls.require_power),
        )
        reader.finish()
        if canary.latency_tolerance_percent >= canary.latency_mde_percent:
            raise ConfigError(
                f"{reader.key_path('latency_tolerance_percent')}: {canary.latency_tolerance_percent:g} must be below "
                f"latency_mde_percent ({canary.latency_mde_percent:g}): the bake could not catch what it tolerates"
            )
        if canary.error_rate_mde_ratio <= 1.0 or canary.baseline_error_rate * canary.error_rate_mde_ratio >= 1.0:
            raise ConfigError(
                f"{reader.key_path('error_rate_mde_ratio')}: {canary.error_rate_mde_ratio:g} must exceed 1 and keep "
                f"baseline_error_rate x ratio below 1"
            )
        return canary

    def to_dict(self) -> dict[str, Any]:
        return {
            "error_rate_margin": self.error_rate_margin,
            "latency_margin_percent": self.latency_margin_percent,
            "accuracy_margin": self.accuracy_margin,
            "alpha": self.alpha,
            "looks": self.looks,
            "min_samples": self.min_samples,
            "expected_requests_per_minute": self.expected_requests_per_minute,
            "baseline_error_rate": self.baseline_error_rate,
            "error_rate_mde_ratio": self.error_rate_mde_ratio,
            "latency_mde_percent": self.latency_mde_percent,
            "latency_tolerance_percent": self.latency_tolerance_percent,
            "latency_log_sigma": self.latency_log_sigma,
            "power": self.power,
            "late_alpha_share": self.late_alpha_share,
            "require_power": self.require_power,
        }
