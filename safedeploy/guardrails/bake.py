"""The bake an environment's blue/green deployments need, from what `cdk.json` declares about its traffic.

Synth and `safedeploy deploy` resolve `wait_interval_seconds: "auto"` here and refuse a bake that cannot reach the
declared power, naming the bake that would, and the traffic or candidate share that would do at the configured bake.
SageMaker bakes at most 3600 s (WaitIntervalInSeconds); a plan above that is refused too, since no configuration of
this strategy can reach the power: the remedies are a larger candidate share (more instances in the canary), a
larger detectable effect, a lower power, or `require_power: false`, which accepts the weaker test knowingly.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from safedeploy.guardrails.setting_reader import SettingError
from safedeploy.stats.bake_plan import (
    BakePlan,
    HarmDesign,
    HarmSpec,
    error_rate_spec,
    latency_spec,
    plan_bake,
    requests_needed,
)

if TYPE_CHECKING:
    from safedeploy.guardrails.settings import CanarySettings, DeploymentSettings

MAX_BAKE_SECONDS = 3600  # WaitIntervalInSeconds
HARM_METRICS = 2  # error rate and latency: each harm test runs at alpha / 2 (Holm's first step)


def instance_share(percent: int, instance_count: int) -> float:
    """The traffic share of a capacity step: a percentage of the instances, rounded down, at least one instance."""
    instances = max(1, math.floor(instance_count * percent / 100))
    return min(instances, instance_count) / instance_count


def candidate_share(settings: DeploymentSettings) -> float:
    """The candidate's real share during the first bake: whole instances of the fleet."""
    from safedeploy.guardrails.settings import Strategy

    percent = {
        Strategy.CANARY: settings.canary_size_percent,
        Strategy.LINEAR: settings.linear_step_percent,
        Strategy.ROLLING: settings.rolling_batch_percent,
    }.get(settings.strategy, 100)
    return instance_share(percent, settings.instance_count)


def harm_specs(canary: CanarySettings, share: float) -> list[HarmSpec]:
    return [
        error_rate_spec(share, canary.baseline_error_rate, canary.error_rate_mde_ratio),
        latency_spec(share, canary.latency_log_sigma, canary.latency_mde_percent / 100),
    ]


def harm_design(canary: CanarySettings) -> HarmDesign:
    return HarmDesign(canary.alpha, HARM_METRICS, canary.looks, canary.late_alpha_share)


def bake_plan(settings: DeploymentSettings, bake_seconds: int | None = None, share: float | None = None) -> BakePlan:
    """The plan at `bake_seconds` (default: the configured bake) and `share` (default: the configured one)."""
    share = candidate_share(settings) if share is None else share
    canary = settings.canary
    bake = settings.wait_interval_seconds if bake_seconds is None else bake_seconds
    return plan_bake(
        harm_specs(canary, share), harm_design(canary), canary.expected_requests_per_minute, share, canary.power, bake
    )


def checked_bake(settings: DeploymentSettings, auto: bool, key_path: str) -> int:
    """The bake to configure: the plan's when `auto`, else the configured one if it reaches the declared power."""
    if candidate_share(settings) >= 1.0:
        return settings.wait_interval_seconds  # no baseline fleet to compare with; the fleet-size rule refuses it
    plan = bake_plan(settings)
    canary = settings.canary
    if plan.needed_seconds > MAX_BAKE_SECONDS and canary.require_power:
        longest = bake_plan(settings, MAX_BAKE_SECONDS).summary()
        raise SettingError(
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
        raise SettingError(
            f"{key_path}: {settings.wait_interval_seconds} s cannot reach the declared power: {plan.summary()}. "
            f'Use "auto" or at least {plan.needed_seconds} s{would}'
        )
    return settings.wait_interval_seconds
