"""Deployment settings of one environment: the `endpoint` section of `cdk.json`, validated against SageMaker's rules.

The CDK app validates `cdk.json` with this module at synth and `safedeploy deploy` validates the published copy
again before any SageMaker call, so a value SageMaker would refuse (or silently ignore) never reaches UpdateEndpoint.
Ranges follow the SageMaker API reference (TrafficRoutingConfig, BlueGreenUpdatePolicy, RollingUpdatePolicy,
CapacitySize, AutoRollbackConfig); where this platform is stricter the rule says so. No boto3 here: synth imports it.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import PlainSerializer, PlainValidator, ValidationInfo, field_validator

from safedeploy.errors import ConfigError
from safedeploy.guardrails import alarm_noise
from safedeploy.guardrails.autoscaling import EndpointAutoscaling, live_instance_count
from safedeploy.guardrails.bake import checked_bake
from safedeploy.guardrails.canary_settings import AlarmThresholds, CanarySettings
from safedeploy.guardrails.traffic_share import CAPACITY_PERCENT, TrafficShare, instances_text, step_capacity
from safedeploy.section_fields import Integer, IntegerList, PositiveNumber, Text, TextList, integer_in
from safedeploy.sections import Section, parsed_json, rule, validated
from safedeploy.strategies import STRATEGIES, DeploymentStrategy, step_keys
from safedeploy.strategies.base import MAX_STEP_INSTANCES, StepKeys
from safedeploy.strategies.canary import CANARY

__all__ = [
    "DeploymentSettings",
    "GuardrailParameter",
    "SampleRatioSettings",
]

# Instance types as SageMaker names them (ml.<family>.<size>); the exact list changes too often to pin here.
INSTANCE_TYPE_PATTERN = r"ml\.[a-z0-9-]+\.[a-z0-9]+"
# Deployment guardrails do not apply to Inf1 instances: SageMaker silently falls back to all-at-once with no bake.
UNGUARDED_INSTANCE_PREFIX = "ml.inf1."
# AutoRollbackConfig.Alarms takes 1-10 alarms.
MAX_ROLLBACK_ALARMS = 10
# A percentage that gives the candidate more than this many times the share asked for is refused: the statistics
# and the blast radius would be planned for a share the fleet cannot have.
MAX_SHARE_RATIO = 2.0
# This platform's cap on `max_execution_timeout_seconds` (SageMaker allows 28,800 s): a deploy build can wait it out.
MAX_EXECUTION_TIMEOUT_SECONDS = 14_400
# What an "auto" timeout adds to a deployment's waits (`total_waiting_seconds`): traffic shifts and alarm reads.
TIMEOUT_SLACK_SECONDS = 600


class SampleRatioSettings(Section):
    """The sample-ratio check: `alpha` bounds its false alarms over a whole deployment; a fleet silent for
    `silent_minutes` while it should serve is a mismatch (see `safedeploy.canary.sample_ratio`)."""

    # A check that rolls back deployments needs a far smaller false-alarm rate than the harm tests.
    alpha: PositiveNumber(0.05) = 0.001
    silent_minutes: Integer(2, 60) = 5


def _strategy(value: object) -> DeploymentStrategy:
    """A strategy's name in cdk.json, its plug-in here (an object passes as itself)."""
    if isinstance(value, DeploymentStrategy):
        return value
    if not isinstance(value, str) or value not in STRATEGIES:
        raise rule(f"{value!r} is not one of {', '.join(STRATEGIES)}")
    return STRATEGIES[value]


Strategy = Annotated[DeploymentStrategy, PlainValidator(_strategy), PlainSerializer(lambda strategy: strategy.name)]
# A step in percent lies in its strategy's band (a canary 1-50 %, a linear step 10-50 %, a rolling batch 5-50 %);
# one in instances is checked against the fleet once the instance count is known.
STEP_BANDS = {
    key: (low, high)
    for step in step_keys()
    for key, low, high in ((step.percent, step.low, step.high), (step.instances, 1, MAX_STEP_INSTANCES))
}
# The keys that take "auto": a value derived once the other settings are known (see `from_mapping`).
WAIT, TIMEOUT, AUTO = "wait_interval_seconds", "max_execution_timeout_seconds", "auto"


class DeploymentSettings(Section):
    """How one environment's endpoint is deployed. Build it with `from_mapping`, which enforces every rule."""

    instance_type: Text(INSTANCE_TYPE_PATTERN, "ml.m5.large") = "ml.m5.large"
    instance_count: Integer(1, 100) = 2
    strategy: Strategy = CANARY
    # Each step is sized in percent (sent as CAPACITY_PERCENT) or in instances (INSTANCE_COUNT); one instance when
    # neither is given, the smallest step any fleet allows. The keys and their bands are the strategies' (`step`).
    canary_size_percent: int | None = None
    canary_size_instances: int | None = None
    linear_step_percent: int | None = None
    linear_step_instances: int | None = None
    # WaitIntervalInSeconds and TerminationWaitInSeconds: 0-3600 s; "auto" takes the planned bake.
    wait_interval_seconds: Integer(0, 3600) = 600
    termination_wait_seconds: Integer(0, 3600) = 300
    # The API allows 600-28800 s; this platform caps a deployment at 4 h so a deploy build can wait it out.
    # "auto" (or absent): the strategy's waits plus TIMEOUT_SLACK_SECONDS, set once the bake is known.
    max_execution_timeout_seconds: Integer(600, MAX_EXECUTION_TIMEOUT_SECONDS) = 4500
    rolling_batch_percent: int | None = None
    rolling_batch_instances: int | None = None
    # RollingUpdatePolicy: a rollback batch of 100 % rolls back at once.
    rollback_batch_percent: Integer(5, 100) = 100
    ab_weights: IntegerList = (5, 25, 50, 100)
    # A shadow copy of 0 % would test nothing.
    shadow_sampling_percent: Integer(1, 100) = 20
    alarms: AlarmThresholds = AlarmThresholds()
    canary: CanarySettings = CanarySettings()
    sample_ratio: SampleRatioSettings = SampleRatioSettings()
    autoscaling: EndpointAutoscaling = EndpointAutoscaling()

    @field_validator(*STEP_BANDS, mode="before")
    @classmethod
    def _step_in_band(cls, value: object, info: ValidationInfo) -> object:
        return integer_in(*STEP_BANDS[str(info.field_name)])(value)

    @field_validator("ab_weights")
    @classmethod
    def _increasing_weights(cls, steps: tuple[int, ...]) -> tuple[int, ...]:
        if len(steps) < 2 or any(not 0 < a < b for a, b in itertools.pairwise(steps)) or steps[-1] != 100:
            raise rule(
                f"{list(steps)} must be at least two candidate weights (percent) that increase and end at 100, "
                "e.g. [5, 25, 50, 100]"
            )
        return steps

    @classmethod
    def from_mapping(cls, raw: object, path: str = "endpoint") -> DeploymentSettings:
        """Validate a plain mapping (missing keys take the defaults); raise ConfigError naming the first bad key."""
        given, timeout = (raw.get(WAIT), raw.get(TIMEOUT)) if isinstance(raw, Mapping) else (None, None)
        if isinstance(raw, Mapping):  # "auto" is no value: the field keeps its default until it is derived
            raw = {key: value for key, value in raw.items() if key not in (WAIT, TIMEOUT) or value != AUTO}
        settings = validated(cls, raw, path)
        settings._check_fleet(path)  # a plan needs a candidate share the fleet can have
        explicit_auto = given == AUTO
        auto_bake = given is None or explicit_auto  # a blue/green bake comes from the plan unless given
        planned = settings.strategy.step is not None
        if explicit_auto and not planned:
            raise ConfigError(
                f'{path}.{WAIT}: "auto" plans the bake of a {_planned_names()} update; strategy '
                f"{settings.strategy.name!r} has none to plan, give a number"
            )
        if auto_bake and planned:
            settings = settings.model_copy(update={WAIT: checked_bake(settings, True, f"{path}.{WAIT}")})
        if not isinstance(timeout, int) and settings.strategy.guardrails:
            waiting = settings.total_waiting_seconds()[0]
            derived = min(max(600, waiting + TIMEOUT_SLACK_SECONDS), MAX_EXECUTION_TIMEOUT_SECONDS)
            settings = settings.model_copy(update={TIMEOUT: derived})
        settings._check_combinations(path)
        if planned and not auto_bake:
            checked_bake(settings, False, f"{path}.{WAIT}")
        return settings

    def _check_combinations(self, path: str) -> None:
        self.autoscaling.check_fleet(self.instance_count, self.strategy.step is not None, path)
        if not self.strategy.guardrails:
            return
        if self.instance_type.startswith(UNGUARDED_INSTANCE_PREFIX):
            raise ConfigError(
                f"{path}.instance_type: {self.instance_type!r} does not support deployment guardrails "
                f"(SageMaker would deploy all at once with no bake); use strategy shadow or ab, or another family"
            )
        waiting, explanation = self.total_waiting_seconds()
        if waiting >= MAX_EXECUTION_TIMEOUT_SECONDS:
            raise ConfigError(
                f"{path}.wait_interval_seconds: a {self.strategy.name} deployment waits {explanation} "
                f"= {waiting} s, more than the {MAX_EXECUTION_TIMEOUT_SECONDS} s max_execution_timeout_seconds can "
                "cover on this platform (SageMaker allows 28800 s); shorten the bake or the termination wait, or use "
                "fewer steps"
            )
        if self.max_execution_timeout_seconds <= waiting:
            raise ConfigError(
                f"{path}.max_execution_timeout_seconds: {self.max_execution_timeout_seconds} must exceed "
                f"the waiting of a {self.strategy.name} deployment ({explanation} = {waiting} s)"
            )
        self._check_alarm_noise(path)

    def _check_alarm_noise(self, path: str) -> None:
        """A 5xx threshold the healthy fleet crosses by chance rolls good models back: refuse it with the numbers."""
        canary, minutes = self.canary, self.max_execution_timeout_seconds // 60
        requests, rate = canary.expected_requests_per_minute, canary.baseline_error_rate
        threshold = self.alarms.error_rate_5xx_percent
        chance = alarm_noise.false_rollback_probability(threshold / 100, requests, rate, minutes)
        if chance > alarm_noise.FALSE_ROLLBACK_LIMIT:
            least = alarm_noise.smallest_quiet_threshold(requests, rate, minutes)
            raise ConfigError(
                f"{path}.alarms.error_rate_5xx_percent: {threshold:g} % is within the noise "
                f"of the declared baseline error rate ({100 * rate:g} % at {requests} requests/minute): a healthy "
                f"deployment would trip the 5xx rollback alarm with probability up to {chance:.2f} in its {minutes} "
                f"minutes; use at least {least:g} % (the canary analysis catches smaller harm)"
            )

    def _check_fleet(self, path: str) -> None:
        step = self.strategy.step
        if not self.strategy.guardrails or step is None:
            return
        if self.instance_count < 2:
            raise ConfigError(
                f"{path}.instance_count: {self.instance_count} is too small for strategy "
                f"{self.strategy.name!r}: it needs at least 2 instances so that each step is a fraction of the fleet"
            )
        self._check_step_size(step, path)

    def _check_step_size(self, step: StepKeys, path: str) -> None:
        """The step is whole instances: refuse sizes SageMaker rejects and percentages that misstate the share."""
        percent_key, instances_key = step.percent, step.instances
        percent, instances = self.step_size(step)
        if percent is not None and instances is not None:
            raise ConfigError(f"{path}.{instances_key}: give {percent_key} or {instances_key}, not both")
        count = self.instance_count
        if step_capacity(percent, instances)[0] != CAPACITY_PERCENT:
            outside = self.step_outside_band()
            if outside:
                raise ConfigError(f"{path}.{instances_key}: {outside} of instance_count")
            return
        share = self.traffic_share()
        if share.ratio > MAX_SHARE_RATIO:
            fits = (
                n
                for n in range(count, 101)
                if self.model_copy(update={"instance_count": n}).traffic_share().ratio <= MAX_SHARE_RATIO
            )
            larger = next(fits, None)
            fleet = f", or use at least {larger} instances" if larger else ""
            raise ConfigError(
                f"{path}.{percent_key}: {percent} % of {count} instances is "
                f"{instances_text(share.step_instances or 0)}, {100 * share.first:.0f} % of traffic, more than "
                f"{MAX_SHARE_RATIO:g}x the {percent} % intended; size it in whole instances "
                f"({instances_key}: {share.step_instances}){fleet}"
            )

    def step_outside_band(self) -> str | None:
        """Why a step sized in instances is outside SageMaker's band for a fleet of `instance_count` (a canary
        1-50 %, a linear step 10-50 %, a rolling batch 5-50 %), or None. A step in percent always fits."""
        step = self.strategy.step
        if step is None:
            return None
        capacity_type, value = step_capacity(*self.step_size(step))
        count, low, high = self.instance_count, step.low, step.high
        if capacity_type == CAPACITY_PERCENT or low * count <= 100 * value <= high * count:
            return None
        return (
            f"{value} of {count} instances is {100 * value / count:.0f} % of the fleet; SageMaker allows {low}-{high} %"
        )

    def step_size(self, step: StepKeys) -> tuple[int | None, int | None]:
        """The (percent, instances) given for `step`'s keys (a strategy reads its step through this)."""
        return getattr(self, step.percent), getattr(self, step.instances)

    def traffic_share(self) -> TrafficShare:
        """The candidate's real share of traffic at each step on this fleet (the strategy's `share`)."""
        return self.strategy.share(self)

    def at_live_size(self, variants: Any, variant_name: str) -> DeploymentSettings:
        """These settings with the fleet at the variant's live size: with autoscaling, a canary or linear step is
        whole instances of the fleet that serves now (the green fleet retains it), so its traffic share follows it."""
        count = live_instance_count(variants, variant_name) if self.autoscaling.enabled else None
        if not count or count == self.instance_count:
            return self
        return self.model_copy(update={"instance_count": count})

    def total_waiting_seconds(self) -> tuple[int, str]:
        """Baking and termination waits of one guarded deployment, which SageMaker's timeout must exceed, and how
        they add up (the strategy's `schedule`)."""
        return self.strategy.waiting(self)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form (a step key not given is left out); `from_mapping(to_dict())` gives the same
        settings back."""
        return self.model_dump(mode="json", exclude_none=True)


def _planned_names() -> str:
    """The strategies whose bake is planned (those sized in steps), as a message lists them: "a, b or c"."""
    *others, last = [name for name, strategy in STRATEGIES.items() if strategy.step is not None]
    return f"{', '.join(others)} or {last}"


class _Published(Section):
    """The parameter's JSON: the settings (validated with their derived values by `from_mapping`) and the alarms."""

    settings: Any
    alarm_names: TextList


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
        absent = (
            next((key for key in _Published.model_fields if key not in data), None)
            if isinstance(data, Mapping)
            else None
        )
        if absent:
            raise ConfigError(f"{path}.{absent}: missing")
        published = validated(_Published, data, path)
        settings = DeploymentSettings.from_mapping(published.settings, f"{path}.settings")
        return cls(settings=settings, alarm_names=published.alarm_names)

    @classmethod
    def from_json(cls, text: str, path: str = "deployment-config") -> GuardrailParameter:
        return cls.from_dict(parsed_json(text, path), path)
