"""Deployment settings of one environment: the `endpoint` section of `cdk.json`, validated against SageMaker's rules.

The CDK app validates `cdk.json` with this module at synth and `safedeploy deploy` validates the published copy
again before any SageMaker call, so a value SageMaker would refuse (or silently ignore) never reaches UpdateEndpoint.
Ranges follow the SageMaker API reference (TrafficRoutingConfig, BlueGreenUpdatePolicy, RollingUpdatePolicy,
CapacitySize, AutoRollbackConfig); where this platform is stricter the rule says so. No boto3 here: synth imports it.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from safedeploy.guardrails.autoscaling import EndpointAutoscaling
from safedeploy.guardrails.setting_reader import SettingError, SettingReader

__all__ = ["AlarmThresholds", "CanarySettings", "DeploymentSettings", "GuardrailParameter", "SettingError", "Strategy"]

# Instance types as SageMaker names them (ml.<family>.<size>); the exact list changes too often to pin here.
INSTANCE_TYPE_PATTERN = r"ml\.[a-z0-9-]+\.[a-z0-9]+"
# Deployment guardrails do not apply to Inf1 instances: SageMaker silently falls back to all-at-once with no bake.
UNGUARDED_INSTANCE_PREFIX = "ml.inf1."
# AutoRollbackConfig.Alarms takes 1-10 alarms.
MAX_ROLLBACK_ALARMS = 10
# SageMaker's invocation timeout is 60 s: a latency threshold above it can never fire.
MAX_LATENCY_MS = 60_000


class Strategy(StrEnum):
    CANARY = "canary"
    LINEAR = "linear"
    ALL_AT_ONCE = "all_at_once"
    ROLLING = "rolling"
    SHADOW = "shadow"
    AB = "ab"

    @property
    def is_guarded_update(self) -> bool:
        """Strategies carried out by SageMaker's own UpdateEndpoint deployment guardrails (with auto-rollback)."""
        return self in (Strategy.CANARY, Strategy.LINEAR, Strategy.ALL_AT_ONCE, Strategy.ROLLING)


@dataclass(frozen=True)
class AlarmThresholds:
    error_rate_5xx_percent: float = 1.0
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

    @classmethod
    def read(cls, reader: SettingReader) -> CanarySettings:
        canary = cls(
            error_rate_margin=reader.positive_number("error_rate_margin", cls.error_rate_margin, 0.5),
            latency_margin_percent=reader.positive_number("latency_margin_percent", cls.latency_margin_percent, 100),
            accuracy_margin=reader.positive_number("accuracy_margin", cls.accuracy_margin, 0.5),
            # A one-sided harm test above 20 % false alarms would roll back good models routinely.
            alpha=reader.positive_number("alpha", cls.alpha, 0.2),
            looks=reader.integer("looks", cls.looks, 1, 60),
            min_samples=reader.integer("min_samples", cls.min_samples, 10, 10_000_000),
            expected_requests_per_minute=reader.integer(
                "expected_requests_per_minute", cls.expected_requests_per_minute, 1, 10_000_000
            ),
        )
        reader.finish()
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
        }


@dataclass(frozen=True)
class DeploymentSettings:
    """How one environment's endpoint is deployed. Build it with `from_mapping`, which enforces every rule."""

    instance_type: str = "ml.m5.large"
    instance_count: int = 2
    strategy: Strategy = Strategy.CANARY
    canary_size_percent: int = 10
    linear_step_percent: int = 20
    wait_interval_seconds: int = 600
    termination_wait_seconds: int = 300
    max_execution_timeout_seconds: int = 3600
    rolling_batch_percent: int = 25
    rollback_batch_percent: int = 100
    ab_weights: tuple[int, ...] = (5, 25, 50, 100)
    shadow_sampling_percent: int = 20
    alarms: AlarmThresholds = field(default_factory=AlarmThresholds)
    canary: CanarySettings = field(default_factory=CanarySettings)
    autoscaling: EndpointAutoscaling = field(default_factory=EndpointAutoscaling)

    @classmethod
    def from_mapping(cls, raw: object, path: str = "endpoint") -> DeploymentSettings:
        """Validate a plain mapping (missing keys take the defaults); raise SettingError naming the first bad key."""
        reader = SettingReader(raw, path)
        defaults = cls()
        settings = cls(
            instance_type=reader.text("instance_type", defaults.instance_type, INSTANCE_TYPE_PATTERN, "ml.m5.large"),
            instance_count=reader.integer("instance_count", defaults.instance_count, 1, 100),
            strategy=Strategy(reader.choice("strategy", defaults.strategy, [s.value for s in Strategy])),
            # TrafficRoutingConfig: the canary is at most 50 % of the fleet, a linear step 10-50 %.
            canary_size_percent=reader.integer("canary_size_percent", defaults.canary_size_percent, 1, 50),
            linear_step_percent=reader.integer("linear_step_percent", defaults.linear_step_percent, 10, 50),
            # WaitIntervalInSeconds and TerminationWaitInSeconds: 0-3600 s.
            wait_interval_seconds=reader.integer("wait_interval_seconds", defaults.wait_interval_seconds, 0, 3600),
            termination_wait_seconds=reader.integer(
                "termination_wait_seconds", defaults.termination_wait_seconds, 0, 3600
            ),
            # The API allows 600-28800 s; this platform caps a deployment at 4 h so a deploy build can wait it out.
            max_execution_timeout_seconds=reader.integer(
                "max_execution_timeout_seconds", defaults.max_execution_timeout_seconds, 600, 14400
            ),
            # RollingUpdatePolicy: a batch is 5-50 % of the fleet; a rollback batch of 100 % rolls back at once.
            rolling_batch_percent=reader.integer("rolling_batch_percent", defaults.rolling_batch_percent, 5, 50),
            rollback_batch_percent=reader.integer("rollback_batch_percent", defaults.rollback_batch_percent, 5, 100),
            ab_weights=reader.integer_list("ab_weights", defaults.ab_weights),
            # A shadow copy of 0 % would test nothing.
            shadow_sampling_percent=reader.integer("shadow_sampling_percent", defaults.shadow_sampling_percent, 1, 100),
            alarms=AlarmThresholds.read(reader.section("alarms")),
            canary=CanarySettings.read(reader.section("canary")),
            autoscaling=EndpointAutoscaling.read(reader.section("autoscaling")),
        )
        reader.finish()
        settings._check_combinations(reader)
        return settings

    def _check_combinations(self, reader: SettingReader) -> None:
        steps = self.ab_weights
        if len(steps) < 2 or any(not 0 < a < b for a, b in itertools.pairwise(steps)) or steps[-1] != 100:
            raise SettingError(
                f"{reader.key_path('ab_weights')}: {list(steps)} must be at least two candidate weights (percent) "
                "that increase and end at 100, e.g. [5, 25, 50, 100]"
            )
        guarded_steps = self.strategy.is_guarded_update and self.strategy is not Strategy.ALL_AT_ONCE
        self.autoscaling.check_fleet(self.instance_count, guarded_steps, reader)
        if not self.strategy.is_guarded_update:
            return
        if self.strategy is not Strategy.ALL_AT_ONCE and self.instance_count < 2:
            raise SettingError(
                f"{reader.key_path('instance_count')}: {self.instance_count} is too small for strategy "
                f"{self.strategy.value!r}: it needs at least 2 instances so that each step is a fraction of the fleet"
            )
        if self.instance_type.startswith(UNGUARDED_INSTANCE_PREFIX):
            raise SettingError(
                f"{reader.key_path('instance_type')}: {self.instance_type!r} does not support deployment guardrails "
                f"(SageMaker would deploy all at once with no bake); use strategy shadow or ab, or another family"
            )
        waiting, explanation = self.total_waiting_seconds()
        if self.max_execution_timeout_seconds <= waiting:
            raise SettingError(
                f"{reader.key_path('max_execution_timeout_seconds')}: {self.max_execution_timeout_seconds} must exceed "
                f"the waiting of a {self.strategy.value} deployment ({explanation} = {waiting} s)"
            )

    def total_waiting_seconds(self) -> tuple[int, str]:
        """Baking and termination waits of one guarded deployment, which SageMaker's timeout must exceed."""
        wait, termination = self.wait_interval_seconds, self.termination_wait_seconds
        if self.strategy is Strategy.LINEAR:
            steps = math.ceil(100 / self.linear_step_percent)
            explanation = f"{steps} steps x wait_interval_seconds {wait} + termination_wait_seconds {termination}"
            return steps * wait + termination, explanation
        if self.strategy is Strategy.ROLLING:
            batches = math.ceil(100 / self.rolling_batch_percent)
            return batches * wait, f"{batches} batches x wait_interval_seconds {wait}"
        return wait + termination, f"wait_interval_seconds {wait} + termination_wait_seconds {termination}"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form; `from_mapping(to_dict())` gives the same settings back."""
        return {
            "instance_type": self.instance_type,
            "instance_count": self.instance_count,
            "strategy": self.strategy.value,
            "canary_size_percent": self.canary_size_percent,
            "linear_step_percent": self.linear_step_percent,
            "wait_interval_seconds": self.wait_interval_seconds,
            "termination_wait_seconds": self.termination_wait_seconds,
            "max_execution_timeout_seconds": self.max_execution_timeout_seconds,
            "rolling_batch_percent": self.rolling_batch_percent,
            "rollback_batch_percent": self.rollback_batch_percent,
            "ab_weights": list(self.ab_weights),
            "shadow_sampling_percent": self.shadow_sampling_percent,
            "alarms": {
                "error_rate_5xx_percent": self.alarms.error_rate_5xx_percent,
                "model_latency_ms": self.alarms.model_latency_ms,
            },
            "canary": self.canary.to_dict(),
            "autoscaling": self.autoscaling.to_dict(),
        }


@dataclass(frozen=True)
class GuardrailParameter:
    """The SSM parameter `/<project>/<env>/deployment-config`: settings plus the auto-rollback alarms to attach."""

    settings: DeploymentSettings
    alarm_names: Sequence[str]

    def __post_init__(self) -> None:
        names = tuple(self.alarm_names)
        if any(not isinstance(name, str) or not name.strip() for name in names):
            raise SettingError(f"alarm_names: {list(names)!r} must be non-empty alarm names")
        if len(names) > MAX_ROLLBACK_ALARMS:
            raise SettingError(f"alarm_names: {len(names)} alarms; SageMaker takes at most {MAX_ROLLBACK_ALARMS}")
        object.__setattr__(self, "alarm_names", names)

    def to_dict(self) -> dict[str, Any]:
        return {"settings": self.settings.to_dict(), "alarm_names": list(self.alarm_names)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: object, path: str = "deployment-config") -> GuardrailParameter:
        reader = SettingReader(data, path)
        raw_settings = reader.required("settings")
        alarm_names = reader.text_list("alarm_names")
        reader.finish()
        settings = DeploymentSettings.from_mapping(raw_settings, reader.key_path("settings"))
        return cls(settings=settings, alarm_names=alarm_names)

    @classmethod
    def from_json(cls, text: str, path: str = "deployment-config") -> GuardrailParameter:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise SettingError(f"{path}: not valid JSON ({error.msg} at character {error.pos})") from None
        return cls.from_dict(data, path)
