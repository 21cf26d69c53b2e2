"""One minute of canary analysis for one environment's endpoint.

Failure modes are chosen so that none of them can promote: no deployment publishes 0 (the alarm stays quiet
between deployments); metrics that cannot be read publish nothing, so the verdict alarm, which treats missing data
as breaching, rolls the deployment back if the analysis stays blind for two of three minutes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from botocore.exceptions import BotoCoreError, ClientError

from safedeploy.canary.fleets import Comparison, find_comparison
from safedeploy.canary.metric_reader import FleetReadings, minute_grid, read_fleets
from safedeploy.canary.metrics import LATENCY_MEDIAN
from safedeploy.canary.outputs import (
    announce,
    decided_before,
    publish_metrics,
    record_key,
    write_record,
)
from safedeploy.canary.policy import canary_policy, guarded
from safedeploy.canary.sample_ratio import SampleRatio, check_sample_ratio
from safedeploy.decision import Decision
from safedeploy.guardrails.bake import bake_plan, measured_settings
from safedeploy.guardrails.deploy_target import DeployTarget, read_parameter
from safedeploy.guardrails.endpoint_status import describe_endpoint
from safedeploy.guardrails.settings import DeploymentSettings
from safedeploy.parameters import Param
from safedeploy.stats import Verdict, canary_verdict

Clients = Callable[[str], Any]


@dataclass(frozen=True)
class AnalysisOutcome:
    """`decision` is None when nothing was judged; `verdict_metric` None when nothing was published."""

    endpoint_name: str
    detail: str
    decision: Decision | None = None
    verdict_metric: int | None = None
    record_uri: str | None = None
    record: dict[str, Any] = field(default_factory=dict)


def analyze_endpoint(clients: Clients, project: str, env: str, now: datetime) -> AnalysisOutcome:
    ssm, sm, cloudwatch = clients("ssm"), clients("sagemaker"), clients("cloudwatch")
    target = DeployTarget.load(ssm, project, env)
    endpoint_name = target.endpoint_name
    snapshot = describe_endpoint(sm, endpoint_name)
    found = (
        find_comparison(sm, snapshot, target.guardrails.settings)
        if snapshot is not None
        else f"endpoint {endpoint_name} does not exist yet"
    )
    if isinstance(found, str):
        publish_metrics(cloudwatch, endpoint_name, now, 0, {})
        return AnalysisOutcome(endpoint_name, found, verdict_metric=0)
    grid = minute_grid(found.started_at, now)
    if not grid:
        publish_metrics(cloudwatch, endpoint_name, now, 0, {})
        return AnalysisOutcome(endpoint_name, "deployment started less than a minute ago", Decision.CONTINUE, 0)
    try:
        readings = read_fleets(cloudwatch, found, grid)
    except (BotoCoreError, ClientError) as error:
        return AnalysisOutcome(endpoint_name, f"metrics unavailable, no verdict published: {error}")
    settings = target.guardrails.settings
    bucket = read_parameter(ssm, project, env, Param.ARTIFACTS_BUCKET)
    s3 = clients("s3")
    earlier = decided_before(s3, bucket, endpoint_name, found.deployment_id, Decision.ROLLBACK, found.started_at, now)
    promoted = None if found.strategy.guardrails else (
        decided_before(s3, bucket, endpoint_name, found.deployment_id, Decision.PROMOTE, found.started_at, now)
    )  # fmt: skip
    observations = readings.observations
    policy = canary_policy(settings, found, set(observations.metrics), promoted=promoted is not None)
    verdict = canary_verdict(guarded(observations, policy), policy)
    # Every minute of the longest deployment is a look of the sample-ratio check.
    looks = max(1, settings.max_execution_timeout_seconds // 60)
    split = check_sample_ratio(
        found, grid, readings.baseline_requests, readings.candidate_requests, settings.sample_ratio, looks
    )
    decision = Decision.ROLLBACK if earlier or split.mismatch else verdict.decision
    if promoted and decision is Decision.CONTINUE:  # shown non-inferior before, no harm since: the next weight may come
        decision = Decision.PROMOTE
    record = _record(found, grid, now, verdict, decision, earlier, policy.to_dict(), split, promoted)
    if found.strategy.guardrails and found.candidate_share < 1.0:
        record["plan"] = bake_plan(settings, share=found.candidate_share).to_dict()
        measured = measured_plan(settings, found.candidate_share, verdict, readings)
        if measured is not None:
            record["measured_plan"], shortfall = measured
            if shortfall:
                record["reasons"].append(shortfall)
    uri = write_record(s3, bucket, record_key(endpoint_name, found.deployment_id, now, decision), record)
    verdict_metric = int(decision is Decision.ROLLBACK)
    publish_metrics(cloudwatch, endpoint_name, now, verdict_metric, verdict.to_dict()["metrics"])
    announce(
        clients("events"),
        {
            "endpoint_name": endpoint_name,
            "deployment_id": found.deployment_id,
            "kind": found.kind,
            "decision": decision,
            "record_uri": uri,
        },
    )
    return AnalysisOutcome(endpoint_name, "; ".join(record["reasons"]), decision, verdict_metric, uri, record)


def measured_plan(
    settings: DeploymentSettings, share: float, verdict: Verdict, readings: FleetReadings
) -> tuple[dict[str, Any], str | None] | None:
    """The bake's power at the traffic and latency spread this deployment measured, and a line saying so when it is
    below the declared power: a bake cannot be re-planned once SageMaker runs it, so heavier tails or quieter traffic
    than `cdk.json` declares are stated in the record (and the report) instead. None before the spread is known."""
    latency = verdict.metrics.get(LATENCY_MEDIAN.name, {})
    sigma = latency.get("log_sigma")
    with np.errstate(invalid="ignore"):
        traffic = float(np.nanmean(readings.baseline_requests + readings.candidate_requests))
    if sigma is None or not math.isfinite(sigma) or not math.isfinite(traffic) or traffic <= 0.0:
        return None
    plan = bake_plan(measured_settings(settings, traffic, settings.canary.baseline_error_rate, sigma), share=share)
    declared = settings.canary
    measured = {"requests_per_minute": traffic, "latency_log_sigma": sigma, **plan.to_dict()}
    if plan.reaches_power:
        return measured, None
    return measured, (
        f"measured {traffic:.0f} requests/minute and latency log sigma {sigma:.2f} (declared "
        f"{declared.expected_requests_per_minute} and {declared.latency_log_sigma:g}): {plan.summary()}"
    )


def _record(
    comparison: Comparison,
    grid: list[datetime],
    now: datetime,
    verdict: Verdict,
    decision: Decision,
    earlier_rollback: str | None,
    policy: dict[str, Any],
    split: SampleRatio,
    earlier_promotion: str | None = None,
) -> dict[str, Any]:
    reasons = list(verdict.reasons)
    if earlier_promotion and decision is Decision.PROMOTE:
        reasons.insert(
            0,
            f"non-inferior since {earlier_promotion}: each later weight is held for wait_interval_seconds and judged "
            "for harm only",
        )
    if split.mismatch:
        reasons.insert(0, split.mismatch)
    if earlier_rollback and verdict.decision is not Decision.ROLLBACK:
        reasons.insert(0, f"already rolled back at {earlier_rollback}: a crossed boundary stays crossed")
    since = split.details.get("since_traffic_began", {})
    return {
        "endpoint_name": comparison.endpoint_name,
        "deployment_id": comparison.deployment_id,
        "endpoint_config_name": comparison.config_name,
        "deployment_started_at": comparison.started_at.isoformat(),
        "kind": comparison.kind,
        "at": now.isoformat(),
        "window": {"start": grid[0].isoformat(), "minutes": len(grid)},
        "fleets": {"baseline": comparison.baseline.label, "candidate": comparison.candidate.label},
        "decision": decision,
        "reasons": reasons,
        "verdict": verdict.to_dict(),
        "policy": policy,
        "traffic": {
            "planned_share": comparison.candidate_share,
            "planned_fraction": comparison.expected_fraction,
            "measured_fraction": since.get("observed_fraction"),
        },
        "sample_ratio": split.details,
    }
