"""A/B testing: the candidate serves a growing share of live traffic, one schedule step per passing verdict.

Weights are percentages of traffic (the baseline keeps the rest). PROMOTE moves to the next step of `ab_weights`;
the step to 100 % ends the test with the candidate alone. ROLLBACK sets the candidate's weight to 0 at once
(UpdateEndpointWeightsAndCapacities acts in seconds, a new endpoint config in minutes); the next verdict, whatever
it is, then ends the test with the baseline alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from safedeploy import clock
from safedeploy.decision import Decision, parse_decision
from safedeploy.guardrails.autoscaling import retained_capacity
from safedeploy.guardrails.endpoint_status import EndpointSnapshot
from safedeploy.guardrails.errors import DeploymentFailed
from safedeploy.guardrails.experiment import (
    ExperimentKind,
    ExperimentStep,
    StepAction,
    experiment_in_progress,
    finish_experiment,
    start_experiment,
)
from safedeploy.guardrails.release_names import PRODUCTION_VARIANT, ReleaseNames
from safedeploy.guardrails.release_resources import production_variant, serving_variant
from safedeploy.guardrails.rolled_back import RolledBackMarks
from safedeploy.guardrails.settings import DeploymentSettings


def start_ab(
    sm: Any, live: EndpointSnapshot, names: ReleaseNames, package_arn: str, settings: DeploymentSettings
) -> str:
    first = settings.ab_weights[0]
    serving = {**serving_variant(sm, live.config_name), "InitialVariantWeight": float(100 - first)}
    candidate = production_variant(names.candidate_variant, names.model_name, settings, weight=float(first))
    return start_experiment(
        sm,
        live,
        names,
        package_arn,
        ExperimentKind.AB,
        [serving, candidate],
        update_options=retained_capacity(settings.autoscaling),
    )


def candidate_share(snapshot: EndpointSnapshot) -> tuple[str, float]:
    """The candidate variant and its share of traffic in percent."""
    candidates = [v for v in snapshot.variants if v.name != PRODUCTION_VARIANT]
    if len(candidates) != 1 or len(snapshot.variants) != 2:
        raise DeploymentFailed(f"endpoint {snapshot.name} does not serve a baseline and one candidate")
    total = sum(v.current_weight for v in snapshot.variants)
    return candidates[0].name, (100 * candidates[0].current_weight / total if total else 0.0)


def next_weight(schedule: Sequence[int], share: float) -> int:
    """The first schedule step above the current share (100 when the share is past the schedule)."""
    return next((step for step in schedule if step > share + 1e-6), 100)


def _set_candidate_weight(sm: Any, endpoint_name: str, candidate: str, weight: int) -> None:
    sm.update_endpoint_weights_and_capacities(
        EndpointName=endpoint_name,
        DesiredWeightsAndCapacities=[
            {"VariantName": PRODUCTION_VARIANT, "DesiredWeight": float(100 - weight)},
            {"VariantName": candidate, "DesiredWeight": float(weight)},
        ],
    )


def advance_ab(
    sm: Any,
    endpoint_name: str,
    decision: object,
    schedule: Sequence[int],
    hold_seconds: int = 0,
    now: datetime | None = None,
    marks: RolledBackMarks | None = None,
) -> ExperimentStep:
    """Act on one verdict of a running A/B test; `schedule` is the settings' `ab_weights`.

    A PROMOTE raises the weight only once the current one has served `hold_seconds` (the settings'
    `wait_interval_seconds`) by the clock (`now`, default `safedeploy.clock`; never a time a record or event
    states): after the first proof of non-inferiority every minute says PROMOTE, and each weight must still bake
    before the next. `marks`: where ending on the baseline marks the candidate's package rolled back (without it
    that ending fails after restoring the baseline).
    """
    verdict = parse_decision(decision)
    experiment = experiment_in_progress(sm, endpoint_name, ExperimentKind.AB)
    if isinstance(experiment, ExperimentStep):
        return experiment
    candidate, share = candidate_share(experiment.endpoint)
    if share <= 0:
        return finish_experiment(sm, experiment, promote=False, marks=marks)
    if verdict is Decision.ROLLBACK:
        _set_candidate_weight(sm, endpoint_name, candidate, 0)
        return ExperimentStep(endpoint_name, StepAction.WEIGHTS, f"{candidate} {share:g}% -> 0% (rolled back)")
    if verdict is Decision.CONTINUE:
        return ExperimentStep(endpoint_name, StepAction.UNCHANGED, f"{candidate} stays at {share:g}%")
    since = experiment.endpoint.last_modified_at
    now = now or clock.utc_now()
    if since is not None and (now - since).total_seconds() < hold_seconds:
        until = (since + timedelta(seconds=hold_seconds)).isoformat(timespec="seconds")
        return ExperimentStep(endpoint_name, StepAction.UNCHANGED, f"{candidate} holds {share:g}% until {until}")
    weight = next_weight(schedule, share)
    if weight >= 100:
        return finish_experiment(sm, experiment, promote=True)
    _set_candidate_weight(sm, endpoint_name, candidate, weight)
    return ExperimentStep(endpoint_name, StepAction.WEIGHTS, f"{candidate} {share:g}% -> {weight}%")
