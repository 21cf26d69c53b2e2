"""Which two fleets a running deployment compares, and how CloudWatch tells them apart.

Blue/green and rolling updates keep the variant name, so SageMaker separates the old and new fleet by the
`EndpointConfigName` dimension. A/B and shadow experiments run both models in one config as two variants, told apart
by `VariantName`; only there can the gateway's feedback (per served variant) be attributed to a fleet. All-at-once
moves every request at once, which leaves no concurrent baseline to compare with: the 5xx and latency alarms guard it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from safedeploy.guardrails.endpoint_status import EndpointSnapshot
from safedeploy.guardrails.experiment import Experiment, ExperimentKind
from safedeploy.guardrails.release_names import PRODUCTION_VARIANT
from safedeploy.guardrails.settings import DeploymentSettings, Strategy

UPDATING = "Updating"


class ComparisonKind(StrEnum):
    BLUE_GREEN = "blue_green"
    AB = "ab"
    SHADOW = "shadow"


@dataclass(frozen=True)
class Fleet:
    label: str
    dimensions: tuple[tuple[str, str], ...]

    def cloudwatch_dimensions(self) -> list[dict[str, str]]:
        return [{"Name": name, "Value": value} for name, value in self.dimensions]


@dataclass(frozen=True)
class Comparison:
    """A deployment in progress: `deployment_id` names it in records and events (the candidate's config)."""

    endpoint_name: str
    deployment_id: str
    kind: ComparisonKind
    started_at: datetime
    baseline: Fleet
    candidate: Fleet
    candidate_share: float

    @property
    def has_gateway_feedback(self) -> bool:
        """The gateway reports the variant that served each prediction; only A/B variants are distinct there."""
        return self.kind is ComparisonKind.AB


def _fleet_by_config(endpoint_name: str, config_name: str) -> Fleet:
    dims = (("EndpointName", endpoint_name), ("VariantName", PRODUCTION_VARIANT), ("EndpointConfigName", config_name))
    return Fleet(config_name, dims)


def _fleet_by_variant(endpoint_name: str, variant_name: str) -> Fleet:
    return Fleet(variant_name, (("EndpointName", endpoint_name), ("VariantName", variant_name)))


def find_comparison(sm: Any, snapshot: EndpointSnapshot, settings: DeploymentSettings) -> Comparison | str:
    """The deployment running on the endpoint, or why there is nothing to compare."""
    if snapshot.status == UPDATING and snapshot.pending_config_name and snapshot.pending_started_at:
        if settings.strategy is Strategy.ALL_AT_ONCE:
            return "all-at-once deployment: no concurrent baseline to compare (the 5xx and latency alarms guard it)"
        if not settings.strategy.is_guarded_update:
            return f"endpoint {snapshot.name} is switching configs ({settings.strategy.value} start or end)"
        return Comparison(
            endpoint_name=snapshot.name,
            deployment_id=snapshot.pending_config_name,
            kind=ComparisonKind.BLUE_GREEN,
            started_at=snapshot.pending_started_at,
            baseline=_fleet_by_config(snapshot.name, snapshot.config_name),
            candidate=_fleet_by_config(snapshot.name, snapshot.pending_config_name),
            candidate_share=settings.traffic_share().first,
        )
    if snapshot.changing:
        return f"{snapshot.progress_line()}: no deployment to analyze"
    experiment = Experiment.running_on(sm, snapshot)
    if experiment is None:
        return f"endpoint {snapshot.name} serves {snapshot.config_name}: no deployment in progress"
    started_at = sm.describe_endpoint_config(EndpointConfigName=snapshot.config_name)["CreationTime"]
    if experiment.kind is ExperimentKind.SHADOW:
        (shadow,) = snapshot.shadow_variants or (None,)
        if shadow is None:
            return f"endpoint {snapshot.name}: shadow experiment without a shadow variant"
        candidate, share, kind = shadow.name, settings.shadow_sampling_percent / 100, ComparisonKind.SHADOW
    else:
        (candidate,) = [v.name for v in snapshot.variants if v.name != PRODUCTION_VARIANT] or ("",)
        if not candidate:
            return f"endpoint {snapshot.name}: A/B experiment without a candidate variant"
        share, kind = settings.ab_weights[0] / 100, ComparisonKind.AB
    return Comparison(
        endpoint_name=snapshot.name,
        deployment_id=snapshot.config_name,
        kind=kind,
        started_at=started_at,
        baseline=_fleet_by_variant(snapshot.name, PRODUCTION_VARIANT),
        candidate=_fleet_by_variant(snapshot.name, candidate),
        candidate_share=share,
    )
