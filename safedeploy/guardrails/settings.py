"""Deployment settings of one environment: the `endpoint` section of `cdk.json`, validated against SageMaker's rules.

The CDK app validates `cdk.json` with this module at synth and `safedeploy deploy` validates the published copy
again before any SageMaker call, so a value SageMaker would refuse (or silently ignore) never reaches UpdateEndpoint.
Ranges follow the SageMaker API reference (TrafficRoutingConfig, BlueGreenUpdatePolicy, RollingUpdatePolicy,
CapacitySize, AutoRollbackConfig); where this platform is stricter the rule says so. No boto3 here: synth imports it.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from safedeploy.errors import ConfigError
from safedeploy.guardrails import alarm_noise
from safedeploy.guardrails.autoscaling import EndpointAutoscaling
from safedeploy.guardrails.bake import checked_bake
from safedeploy.guardrails.setting_reader import SettingReader
from safedeploy.guardrails.traffic_share import (
    CAPACITY_PERCENT,
    TrafficShare,
    instances_text,
    settings_share,
    step_capacity,
    traffic_share,
)
from safedeploy.stats.boundaries import MAX_LOOKS

__all__ = [
    "AlarmThresholds",
    "CanarySettings",
    "DeploymentSettings",
    "GuardrailParameter",
    "SampleRatioSettings",
    "Strategy",
]

# Instance types as SageMaker names them (ml.<family>.<size>); the exact list changes too often to pin here.
INSTANCE_TYPE_PATTERN = r"ml\.[a-z0-9-]+\.[a-z0-9]+"
# Deployment guardrails do not apply to Inf1 instances: SageMaker silently falls back to all-at-once with no bake.
UNGUARDED_INSTANCE_PREFIX = "ml.inf1."
# AutoRollbackConfig.Alarms takes 1-10 alarms.
MAX_ROLLBACK_ALARMS = 10
# SageMaker's invocation timeout is 60 s: a latency threshold above it can never fire.
MAX_LATENCY_MS = 60_000
# A percentage that gives the candidate more than this many times the share asked for is refused: the statistics
# and the blast radius would be planned for a share the fleet cannot have.
MAX_SHARE_RATIO = 2.0
# This platform's cap on `max_execution_timeout_seconds` (SageMaker allows 28,800 s): a deploy build can wait it out.
MAX_EXECUTION_TIMEOUT_SECONDS = 14_400
# What an "auto" timeout adds to a deployment's waits (`total_waiting_seconds`): traffic shifts and alarm reads.
TIMEOUT_SLACK_SECONDS = 600
# Per capacity-sized strategy: the (percent key, instances key) that size its step, and the step's documented
# range in percent of the instance count (TrafficRoutingConfig, RollingUpdatePolicy).
STEP_KEYS = {
    "canary": ("canary_size_percent", "canary_size_instances", 1, 50),
    "linear": ("linear_step_percent", "linear_step_instances", 10, 50),
    "rolling": ("rolling_batch_percent", "rolling_batch_instances", 5, 50),
}


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


_STEP_FIELDS = tuple(key for keys in STEP_KEYS.values() for key in keys[:2])
PLANNED_BAKES = (Strategy.CANARY, Strategy.LINEAR, Strategy.ROLLING)


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


@dataclass(frozen=True)
class SampleRatioSettings:
    """The sample-ratio check: `alpha` bounds its false alarms over a whole deployment; a fleet silent for
    `silent_minutes` while it should serve is a mismatch (see `safedeploy.canary.sample_ratio`)."""

    alpha: float = 0.001
    silent_minutes: int = 5

    @classmethod
    def read(cls, reader: SettingReader) -> SampleRatioSettings:
        sample_ratio = cls(
            # A check that rolls back deployments needs a far smaller false-alarm rate than the harm tests.
            alpha=reader.positive_number("alpha", cls.alpha, 0.05),
            silent_minutes=reader.integer("silent_minutes", cls.silent_minutes, 2, 60),
        )
        reader.finish()
        return sample_ratio


@dataclass(frozen=True)
class DeploymentSettings:
    """How one environment's endpoint is deployed. Build it with `from_mapping`, which enforces every rule."""

    instance_type: str = "ml.m5.large"
    instance_count: int = 2
    strategy: Strategy = Strategy.CANARY
    # Each step is sized in percent (sent as CAPACITY_PERCENT) or in instances (INSTANCE_COUNT); one instance when
    # neither is given, the smallest step any fleet allows.
    canary_size_percent: int | None = None
    canary_size_instances: int | None = None
    linear_step_percent: int | None = None
    linear_step_instances: int | None = None
    wait_interval_seconds: int = 600
    termination_wait_seconds: int = 300
    max_execution_timeout_seconds: int = 4500
    rolling_batch_percent: int | None = None
    rolling_batch_instances: int | None = None
    rollback_batch_percent: int = 100
    ab_weights: tuple[int, ...] = (5, 25, 50, 100)
    shadow_sampling_percent: int = 20
    alarms: AlarmThresholds = field(default_factory=AlarmThresholds)
    canary: CanarySettings = field(default_factory=CanarySettings)
    sample_ratio: SampleRatioSettings = field(default_factory=SampleRatioSettings)
    autoscaling: EndpointAutoscaling = field(default_factory=EndpointAutoscaling)

    @classmethod
    def from_mapping(cls, raw: object, path: str = "endpoint") -> DeploymentSettings:
        """Validate a plain mapping (missing keys take the defaults); raise ConfigError naming the first bad key."""
        reader = SettingReader(raw, path)
        defaults = cls()
        settings = cls(
            instance_type=reader.text("instance_type", defaults.instance_type, INSTANCE_TYPE_PATTERN, "ml.m5.large"),
            instance_count=reader.integer("instance_count", defaults.instance_count, 1, 100),
            strategy=Strategy(reader.choice("strategy", defaults.strategy, [s.value for s in Strategy])),
            # TrafficRoutingConfig: the canary is at most 50 % of the fleet, a linear step 10-50 %.
            canary_size_percent=reader.optional_integer("canary_size_percent", 1, 50),
            canary_size_instances=reader.optional_integer("canary_size_instances", 1, 50),
            linear_step_percent=reader.optional_integer("linear_step_percent", 10, 50),
            linear_step_instances=reader.optional_integer("linear_step_instances", 1, 50),
            # WaitIntervalInSeconds and TerminationWaitInSeconds: 0-3600 s; "auto" takes the planned bake.
            wait_interval_seconds=given
            if isinstance(given := reader.integer_or_auto("wait_interval_seconds", 0, 3600), int)
            else 0,
            termination_wait_seconds=reader.integer(
                "termination_wait_seconds", defaults.termination_wait_seconds, 0, 3600
            ),
            # The API allows 600-28800 s; this platform caps a deployment at 4 h so a deploy build can wait it out.
            # "auto" (or absent): the strategy's waits plus TIMEOUT_SLACK_SECONDS, set once the bake is known.
            max_execution_timeout_seconds=timeout
            if isinstance(
                timeout := reader.integer_or_auto("max_execution_timeout_seconds", 600, MAX_EXECUTION_TIMEOUT_SECONDS),
                int,
            )
            else defaults.max_execution_timeout_seconds,
            # RollingUpdatePolicy: a batch is 5-50 % of the fleet; a rollback batch of 100 % rolls back at once.
            rolling_batch_percent=reader.optional_integer("rolling_batch_percent", 5, 50),
            rolling_batch_instances=reader.optional_integer("rolling_batch_instances", 1, 50),
            rollback_batch_percent=reader.integer("rollback_batch_percent", defaults.rollback_batch_percent, 5, 100),
            ab_weights=reader.integer_list("ab_weights", defaults.ab_weights),
            # A shadow copy of 0 % would test nothing.
            shadow_sampling_percent=reader.integer("shadow_sampling_percent", defaults.shadow_sampling_percent, 1, 100),
            alarms=AlarmThresholds.read(reader.section("alarms")),
            canary=CanarySettings.read(reader.section("canary")),
            sample_ratio=SampleRatioSettings.read(reader.section("sample_ratio")),
            autoscaling=EndpointAutoscaling.read(reader.section("autoscaling")),
        )
        reader.finish()
        settings._check_fleet(reader)  # a plan needs a candidate share the fleet can have
        explicit_auto = given == "auto"
        auto_bake = given is None or explicit_auto  # a blue/green bake comes from the plan unless given
        planned = settings.strategy in PLANNED_BAKES
        if auto_bake and not planned:
            if explicit_auto:
                raise ConfigError(
                    f'{reader.key_path("wait_interval_seconds")}: "auto" plans the bake of a canary, linear or '
                    f"rolling update; strategy {settings.strategy.value!r} has none to plan, give a number"
                )
            settings = dataclasses.replace(settings, wait_interval_seconds=defaults.wait_interval_seconds)
        if auto_bake and planned:
            bake = checked_bake(settings, True, reader.key_path("wait_interval_seconds"))
            settings = dataclasses.replace(settings, wait_interval_seconds=bake)
        if not isinstance(timeout, int) and settings.strategy.is_guarded_update:
            waiting = settings.total_waiting_seconds()[0]
            derived = min(max(600, waiting + TIMEOUT_SLACK_SECONDS), MAX_EXECUTION_TIMEOUT_SECONDS)
            settings = dataclasses.replace(settings, max_execution_timeout_seconds=derived)
        settings._check_combinations(reader)
        if planned and not auto_bake:
            checked_bake(settings, False, reader.key_path("wait_interval_seconds"))
        return settings

    def _check_combinations(self, reader: SettingReader) -> None:
        steps = self.ab_weights
        if len(steps) < 2 or any(not 0 < a < b for a, b in itertools.pairwise(steps)) or steps[-1] != 100:
            raise ConfigError(
                f"{reader.key_path('ab_weights')}: {list(steps)} must be at least two candidate weights (percent) "
                "that increase and end at 100, e.g. [5, 25, 50, 100]"
            )
        guarded_steps = self.strategy.is_guarded_update and self.strategy is not Strategy.ALL_AT_ONCE
        self.autoscaling.check_fleet(self.instance_count, guarded_steps, reader)
        if not self.strategy.is_guarded_update:
            return
        if self.instance_type.startswith(UNGUARDED_INSTANCE_PREFIX):
            raise ConfigError(
                f"{reader.key_path('instance_type')}: {self.instance_type!r} does not support deployment guardrails "
                f"(SageMaker would deploy all at once with no bake); use strategy shadow or ab, or another family"
            )
        waiting, explanation = self.total_waiting_seconds()
        if waiting >= MAX_EXECUTION_TIMEOUT_SECONDS:
            raise ConfigError(
                f"{reader.key_path('wait_interval_seconds')}: a {self.strategy.value} deployment waits {explanation} "
                f"= {waiting} s, more than the {MAX_EXECUTION_TIMEOUT_SECONDS} s max_execution_timeout_seconds can "
                "cover on this platform (SageMaker allows 28800 s); shorten the bake or the termination wait, or use "
                "fewer steps"
            )
        if self.max_execution_timeout_seconds <= waiting:
            raise ConfigError(
                f"{reader.key_path('max_execution_timeout_seconds')}: {self.max_execution_timeout_seconds} must exceed "
                f"the waiting of a {self.strategy.value} deployment ({explanation} = {waiting} s)"
            )
        self._check_alarm_noise(reader)

    def _check_alarm_noise(self, reader: SettingReader) -> None:
        """A 5xx threshold the healthy fleet crosses by chance rolls good models back: refuse it with the numbers."""
        canary, minutes = self.canary, self.max_execution_timeout_seconds // 60
        requests, rate = canary.expected_requests_per_minute, canary.baseline_error_rate
        threshold = self.alarms.error_rate_5xx_percent
        chance = alarm_noise.false_rollback_probability(threshold / 100, requests, rate, minutes)
        if chance > alarm_noise.FALSE_ROLLBACK_LIMIT:
            least = alarm_noise.smallest_quiet_threshold(requests, rate, minutes)
            raise ConfigError(
                f"{reader.key_path('alarms.error_rate_5xx_percent')}: {threshold:g} % is within the noise "
                f"of the declared baseline error rate ({100 * rate:g} % at {requests} requests/minute): a healthy "
                f"deployment would trip the 5xx rollback alarm with probability up to {chance:.2f} in its {minutes} "
                f"minutes; use at least {least:g} % (the canary analysis catches smaller harm)"
            )

    def _check_fleet(self, reader: SettingReader) -> None:
        if not self.strategy.is_guarded_update:
            return
        if self.strategy is not Strategy.ALL_AT_ONCE and self.instance_count < 2:
            raise ConfigError(
                f"{reader.key_path('instance_count')}: {self.instance_count} is too small for strategy "
                f"{self.strategy.value!r}: it needs at least 2 instances so that each step is a fraction of the fleet"
            )
        self._check_step_size(reader)

    def _check_step_size(self, reader: SettingReader) -> None:
        """The step is whole instances: refuse sizes SageMaker rejects and percentages that misstate the share."""
        if self.strategy.value not in STEP_KEYS:
            return
        percent_key, instances_key = STEP_KEYS[self.strategy.value][:2]
        percent, instances = getattr(self, percent_key), getattr(self, instances_key)
        if percent is not None and instances is not None:
            raise ConfigError(f"{reader.key_path(instances_key)}: give {percent_key} or {instances_key}, not both")
        count = self.instance_count
        if step_capacity(percent, instances)[0] != CAPACITY_PERCENT:
            outside = self.step_outside_band()
            if outside:
                raise ConfigError(f"{reader.key_path(instances_key)}: {outside} of instance_count")
            return
        share = self.traffic_share()
        if share.ratio > MAX_SHARE_RATIO:
            fits = (
                n
                for n in range(count, 101)
                if traffic_share(self.strategy, n, **{percent_key: percent}).ratio <= MAX_SHARE_RATIO
            )
            larger = next(fits, None)
            fleet = f", or use at least {larger} instances" if larger else ""
            raise ConfigError(
                f"{reader.key_path(percent_key)}: {percent} % of {count} instances is "
                f"{instances_text(share.step_instances or 0)}, {100 * share.first:.0f} % of traffic, more than "
                f"{MAX_SHARE_RATIO:g}x the {percent} % intended; size it in whole instances "
                f"({instances_key}: {share.step_instances}){fleet}"
            )

    def step_outside_band(self) -> str | None:
        """Why a step sized in instances is outside SageMaker's band for a fleet of `instance_count` (a canary
        1-50 %, a linear step 10-50 %, a rolling batch 5-50 %), or None. A step in percent always fits."""
        if self.strategy.value not in STEP_KEYS:
            return None
        percent_key, instances_key, low, high = STEP_KEYS[self.strategy.value]
        capacity_type, value = step_capacity(getattr(self, percent_key), getattr(self, instances_key))
        count = self.instance_count
        if capacity_type == CAPACITY_PERCENT or low * count <= 100 * value <= high * count:
            return None
        return (
            f"{value} of {count} instances is {100 * value / count:.0f} % of the fleet; SageMaker allows {low}-{high} %"
        )

    def traffic_share(self) -> TrafficShare:
        """The candidate's real share of traffic at each step on this fleet (see `traffic_share`)."""
        return settings_share(self)

    def total_waiting_seconds(self) -> tuple[int, str]:
        """Baking and termination waits of one guarded deployment, which SageMaker's timeout must exceed.

        Blue/green: after all traffic has shifted "there is a final baking period", and TerminationWaitInSeconds is
        waited after it (SageMaker's canary, linear and all-at-once pages). Its length is not documented: it is
        budgeted as one wait_interval_seconds, the longest it plausibly is (a linear update's last step and an
        all-at-once update's only bake already are that bake). Rolling updates have no termination wait.
        """
        wait, termination = self.wait_interval_seconds, self.termination_wait_seconds
        if self.strategy is Strategy.ROLLING:
            batches = len(self.traffic_share().steps)
            return batches * wait, f"{batches} batches x wait_interval_seconds {wait}"
        if self.strategy is Strategy.LINEAR:
            bakes, what = len(self.traffic_share().steps), "steps (the last one the final bake)"
        elif self.strategy is Strategy.CANARY:
            bakes, what = 2, "bakes (the canary, then the final bake)"
        else:
            bakes, what = 1, "bake (the final bake)"
        explanation = f"{bakes} {what} x wait_interval_seconds {wait} + termination_wait_seconds {termination}"
        return bakes * wait + termination, explanation

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form; `from_mapping(to_dict())` gives the same settings back."""
        return {
            "instance_type": self.instance_type,
            "instance_count": self.instance_count,
            "strategy": self.strategy.value,
            **{key: getattr(self, key) for key in _STEP_FIELDS if getattr(self, key) is not None},
            "wait_interval_seconds": self.wait_interval_seconds,
            "termination_wait_seconds": self.termination_wait_seconds,
            "max_execution_timeout_seconds": self.max_execution_timeout_seconds,
            "rollback_batch_percent": self.rollback_batch_percent,
            "ab_weights": list(self.ab_weights),
            "shadow_sampling_percent": self.shadow_sampling_percent,
            "alarms": {
                "error_rate_5xx_percent": self.alarms.error_rate_5xx_percent,
                "model_latency_ms": self.alarms.model_latency_ms,
            },
            "canary": self.canary.to_dict(),
            "sample_ratio": {"alpha": self.sample_ratio.alpha, "silent_minutes": self.sample_ratio.silent_minutes},
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
            raise ConfigError(f"alarm_names: {list(names)!r} must be non-empty alarm names")
        if len(names) > MAX_ROLLBACK_ALARMS:
            raise ConfigError(f"alarm_names: {len(names)} alarms; SageMaker takes at most {MAX_ROLLBACK_ALARMS}")
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
            raise ConfigError(f"{path}: not valid JSON ({error.msg} at character {error.pos})") from None
        return cls.from_dict(data, path)
