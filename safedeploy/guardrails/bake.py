"""The bake an environment's blue/green deployments need, from what `cdk.json` declares about its traffic.

Synth and `safedeploy deploy` resolve `wait_interval_seconds: "auto"` here and refuse a bake that cannot reach the
declared power, naming the bake that would, and the traffic or candidate share that would do at the configured bake.
SageMaker bakes at most 3600 s (WaitIntervalInSeconds); a plan above that is refused too, since no configuration of
this strategy can reach the power: the remedies are a larger candidate share (more instances in the canary), a
larger detectable effect, a lower power, or `require_power: false`, which accepts the weaker test knowingly.
"""

from __future__ import annotations

import math
from typing import Any, Protocol, Self, TypeVar

from safedeploy.canary.metrics import PLANNED, PLANNED_METRICS, CanaryMetric
from safedeploy.errors import ConfigError
from safedeploy.guardrails.canary_settings import CanarySettings
from safedeploy.guardrails.traffic_share import TrafficShare
from safedeploy.stats.bake_plan import BakePlan, HarmDesign, HarmSpec, plan_bake, requests_needed

MAX_BAKE_SECONDS = 3600  # WaitIntervalInSeconds
HARM_METRICS = len(PLANNED)  # error rate and latency: each harm test runs at alpha / 2 (Holm's first step)


class PlannedSettings(Protocol):
    """What a bake plan reads of an environment's `endpoint` settings (`DeploymentSettings` provides it): the
    settings validate their bake here, so this module imports nothing of them."""

    @property
    def instance_count(self) -> int: ...
    @property
    def wait_interval_seconds(self) -> int: ...
    @property
    def canary(self) -> CanarySettings: ...
    def traffic_share(self) -> TrafficShare: ...
    def model_copy(self, *, update: dict[str, Any]) -> Self: ...


Planned = TypeVar("Planned", bound=PlannedSettings)


def candidate_share(settings: PlannedSettings) -> float:
    """The candidate's real share during the first bake: whole instances of the fleet (`traffic_share`)."""
    return settings.traffic_share().first


def harm_specs(canary: CanarySettings, share: float) -> list[HarmSpec]:
    return [planning.harm(canary, share) for planning in PLANNED]


def harm_design(canary: CanarySettings) -> HarmDesign:
    return HarmDesign(canary.alpha, HARM_METRICS, canary.late_alpha_share)


def bake_plan(settings: PlannedSettings, bake_seconds: int | None = None, share: float | None = None) -> BakePlan:
    """The plan at `bake_seconds` (default: the configured bake) and `share` (default: the configured one)."""
    share = candidate_share(settings) if share is None else share
    canary = settings.canary
    bake = settings.wait_interval_seconds if bake_seconds is None else bake_seconds
    if share >= 1.0:
        raise ConfigError(f"a candidate share of {share:g} leaves no baseline fleet to compare with")
    return plan_bake(
        harm_specs(canary, share), harm_design(canary), canary.expected_requests_per_minute, share, canary.power, bake
    )


def checked_bake(settings: PlannedSettings, auto: bool, key_path: str) -> int:
    """The bake to configure: the plan's when `auto`, else the configured one if it reaches the declared power."""
    if candidate_share(settings) >= 1.0:
        return settings.wait_interval_seconds  # no baseline fleet to compare with; the fleet-size rule refuses it
    plan = bake_plan(settings)
    canary = settings.canary
    if plan.needed_seconds > MAX_BAKE_SECONDS and canary.require_power:
        longest = bake_plan(settings, MAX_BAKE_SECONDS).summary()
        raise ConfigError(
            f"{key_path}: the declared power {canary.power:g} needs a bake of {plan.needed_seconds} s, above "
            f"SageMaker's {MAX_BAKE_SECONDS} s; {longest}. Put more instances in the canary, declare a larger "
            "error_rate_mde_ratio or latency_mde_percent, a lower power, or require_power: false"
        )
    if auto:
        return min(plan.needed_seconds, MAX_BAKE_SECONDS)
    if not plan.reaches_power and canary.require_power:
        samples = max(metric.samples_needed for metric in plan.metrics)
        traffic = requests_needed(samples, plan.candidate_share, settings.wait_interval_seconds)
        would = "" if traffic is None else f", or {math.ceil(traffic)} requests/minute at the quietest hour"
        raise ConfigError(
            f"{key_path}: {settings.wait_interval_seconds} s cannot reach the declared power: {plan.summary()}. "
            f'Use "auto" or at least {plan.needed_seconds} s{would}, or canary.require_power: false to accept the '
            "weaker test (synth then prints what it detects)"
        )
    return settings.wait_interval_seconds


def bake_report(name: str, settings: PlannedSettings) -> list[str]:
    """What synth and `safedeploy plan --env` print of an environment's planned bake: the bake, the candidate's share
    and each metric's power in it; and, when `require_power: false` let a shorter bake through, a warning saying what
    that bake detects with the declared power."""
    plan = bake_plan(settings)
    lines = [f"{name}: {plan.summary()}"]
    if plan.reaches_power:
        return lines
    detects = []
    for metric in PLANNED_METRICS:
        if metric.mde is None:
            continue
        found = detectable_harm(settings, metric)
        configured = getattr(settings.canary, metric.mde.name)
        detected = f"{found:.3g}" if found is not None else "no value it may take"
        detects.append(f"{metric.mde.key} {detected} (declared {configured:g})")
    lines.append(
        f"warning: {name}: canary.require_power is false and a bake of {settings.wait_interval_seconds} s stays below "
        f"the declared power {settings.canary.power:g}; with that power it detects only {', '.join(detects)}"
    )
    return lines


def detectable_harm(settings: PlannedSettings, metric: CanaryMetric) -> float | None:
    """The smallest value of `metric`'s MDE setting (in its cdk.json units) whose harm the configured bake catches
    with the declared power, from the start and from mid-bake alike; None if no value the setting may take does.
    Larger values are tried by doubling while the settings still validate (their bounds are defined once, there)."""
    assert metric.mde is not None
    name, canary = metric.mde.name, settings.canary

    def caught(value: float) -> bool:
        changed = settings.model_copy(update={"canary": canary.model_copy(update={name: value})})
        plan = bake_plan(changed)
        planned = next(item for item in plan.metrics if item.name == metric.name)
        powers = [planned.power_at_bake, planned.late_power_at_bake or planned.power_at_bake]
        return min(powers) >= canary.power

    low = high = float(getattr(canary, name))
    if caught(low):
        return low
    while not caught(high):
        low, high = high, 2.0 * high
        try:
            type(canary).model_validate(canary.model_dump() | {name: high})
        except ValueError:
            return None
    for _ in range(40):
        middle = (low + high) / 2.0
        low, high = (low, middle) if caught(middle) else (middle, high)
    return high


def measured_settings(
    settings: Planned, requests_per_minute: float, error_rate: float, log_sigma: float | None
) -> Planned:
    """The environment's settings with the traffic an endpoint really had in place of the declared one."""
    canary = settings.canary.model_copy(
        update={
            "expected_requests_per_minute": max(1, math.floor(requests_per_minute)),
            "baseline_error_rate": min(max(error_rate, 1e-4), 0.3),
            "latency_log_sigma": log_sigma if log_sigma else settings.canary.latency_log_sigma,
        }
    )
    return settings.model_copy(update={"canary": canary})


def canary_options(settings: PlannedSettings) -> list[tuple[int, BakePlan]]:
    """For a canary: the plan with each possible canary size, 1 instance up to half the fleet."""
    options = []
    for instances in range(1, max(1, settings.instance_count // 2) + 1):
        share = instances / settings.instance_count
        options.append((instances, bake_plan(settings, share=share, bake_seconds=None)))
    return options


def power_curve(settings: PlannedSettings, minutes: list[int]) -> dict[str, list[float]]:
    """Each metric's power (harm from the start, and from mid-bake) at each bake length, the configured share."""
    curves: dict[str, list[float]] = {}
    for minute in minutes:
        for metric in bake_plan(settings, bake_seconds=60 * minute).metrics:
            curves.setdefault(metric.name, []).append(metric.power_at_bake)
            if metric.late_power_at_bake is not None:
                curves.setdefault(f"{metric.name}, bad from mid-bake", []).append(metric.late_power_at_bake)
    return curves
