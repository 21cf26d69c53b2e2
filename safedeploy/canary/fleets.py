"""Which two fleets a running deployment compares, and how CloudWatch tells them apart.

Blue/green and rolling updates keep the variant name, so SageMaker separates the old and new fleet by the
`EndpointConfigName` dimension. A/B and shadow experiments run both models in one config as two variants, told apart
by `VariantName`; only there can the gateway's feedback (per served variant) be attributed to a fleet. All-at-once
moves every request at once, which leaves no concurrent baseline to compare with: the 5xx and latency alarms guard it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from safedeploy.guardrails import resource_tags
from safedeploy.guardrails.endpoint_status import EndpointSnapshot
from safedeploy.guardrails.experiment import Experiment
from safedeploy.guardrails.release_names import PRODUCTION_VARIANT
from safedeploy.guardrails.settings import DeploymentSettings
from safedeploy.strategies import DeploymentStrategy

UPDATING = "Updating"


@dataclass(frozen=True)
class Fleet:
    label: str
    dimensions: tuple[tuple[str, str], ...]

    def cloudwatch_dimensions(self) -> list[dict[str, str]]:
        return [{"Name": name, "Value": value} for name, value in self.dimensions]


def deployment_id(config_name: str, started_at: datetime) -> str:
    """A deployment's identity: its endpoint config and start time, so a retry of the same version is a new one."""
    return f"{config_name}@{started_at.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}"


@dataclass(frozen=True)
class Comparison:
    """A guarded deployment in progress, named in records and events by `deployment_id`.

    `strategy` is the deployment's (the experiment's for A/B and shadow); `kind` names its comparison in records
    and events. `config_name` is the candidate's (blue/green) or the experiment's endpoint config.
    `candidate_share` is the candidate's planned share of requests now (the first step's whole instances, the
    current A/B weights, the shadow copy fraction) and `expected_fraction` the fraction of both fleets' Invocations
    it implies. `traffic_since` is when the candidate began to receive that share (None while SageMaker has not
    turned its traffic on), which the sample-ratio check needs; `share_can_grow` is True where later steps
    legitimately raise it (blue/green).
    """

    endpoint_name: str
    config_name: str
    strategy: DeploymentStrategy
    started_at: datetime
    baseline: Fleet
    candidate: Fleet
    candidate_share: float
    expected_fraction: float
    traffic_since: datetime | None = None
    share_can_grow: bool = False

    @property
    def deployment_id(self) -> str:
        return deployment_id(self.config_name, self.started_at)

    @property
    def kind(self) -> str:
        return self.strategy.comparison or ""

    @property
    def has_gateway_feedback(self) -> bool:
        """The gateway reports the variant that served each prediction; only an experiment's candidate that
        answers requests (not a shadow) is a distinct variant there."""
        return not self.strategy.guardrails and not self.strategy.copies


def fleet_by_config(endpoint_name: str, config_name: str) -> Fleet:
    """One blue/green fleet: the variant name is shared, the endpoint config tells the fleets apart."""
    dims = (("EndpointName", endpoint_name), ("VariantName", PRODUCTION_VARIANT), ("EndpointConfigName", config_name))
    return Fleet(config_name, dims)


def _fleet_by_variant(endpoint_name: str, variant_name: str) -> Fleet:
    return Fleet(variant_name, (("EndpointName", endpoint_name), ("VariantName", variant_name)))


def _guarded_at(tags: dict[str, str]) -> datetime | None:
    try:
        return datetime.fromisoformat(tags.get(resource_tags.GUARDED_AT, ""))
    except ValueError:
        return None


def find_comparison(sm: Any, snapshot: EndpointSnapshot, settings: DeploymentSettings) -> Comparison | str:
    """The guarded deployment running on the endpoint, or why there is nothing to compare.

    Only a deployment that `safedeploy deploy` started with the guardrail policy is judged (it tags the endpoint
    with the config first); a rollback or any other plain UpdateEndpoint is left alone.
    """
    tags = resource_tags.read_tags(sm, snapshot.arn)
    guarded = tags.get(resource_tags.GUARDED_CONFIG, "")
    if snapshot.status == UPDATING and snapshot.pending_config_name and snapshot.pending_started_at:
        if snapshot.pending_config_name != guarded:
            return (
                f"endpoint {snapshot.name} is switching to {snapshot.pending_config_name} without a guarded deploy "
                "(a rollback, an experiment's start or end, or a manual update): not analysed"
            )
        if not settings.strategy.guardrails:
            return f"endpoint {snapshot.name} is switching configs ({settings.strategy.name} start or end)"
        if settings.strategy.comparison is None:
            return (
                f"{settings.strategy.name} deployment: no concurrent baseline to compare (the 5xx and latency alarms "
                "guard it)"
            )
        share = settings.at_live_size(snapshot.variants, PRODUCTION_VARIANT).traffic_share().first
        pending = next((v for v in snapshot.pending_variants if v.name == PRODUCTION_VARIANT), None)
        return Comparison(
            endpoint_name=snapshot.name,
            config_name=snapshot.pending_config_name,
            strategy=settings.strategy,
            started_at=snapshot.pending_started_at,
            baseline=fleet_by_config(snapshot.name, snapshot.config_name),
            candidate=fleet_by_config(snapshot.name, snapshot.pending_config_name),
            candidate_share=share,
            expected_fraction=share,
            traffic_since=pending.baking_since if pending else None,
            share_can_grow=True,
        )
    if snapshot.changing:
        return f"{snapshot.progress_line()}: no deployment to analyze"
    experiment = Experiment.running_on(sm, snapshot)
    if experiment is None:
        return f"endpoint {snapshot.name} serves {snapshot.config_name}: no deployment in progress"
    started_at = _guarded_at(tags)
    if guarded != snapshot.config_name or started_at is None:
        return (
            f"endpoint {snapshot.name}: the {experiment.strategy.name} experiment {snapshot.config_name} was not "
            "started by a deploy: not analysed"
        )
    measured = experiment.strategy.measure(snapshot, started_at, settings)
    if isinstance(measured, str):
        return measured
    return Comparison(
        endpoint_name=snapshot.name,
        config_name=snapshot.config_name,
        strategy=experiment.strategy,
        started_at=started_at,
        baseline=_fleet_by_variant(snapshot.name, PRODUCTION_VARIANT),
        candidate=_fleet_by_variant(snapshot.name, measured.candidate),
        candidate_share=measured.share,
        expected_fraction=measured.expected_fraction,
        traffic_since=measured.since,
    )
