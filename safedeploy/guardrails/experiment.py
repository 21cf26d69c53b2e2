"""Shadow and A/B experiments on AWS: the endpoint config that runs one, each verdict's step, and how one ends.

An experiment config is tagged with its strategy, its baseline (the release config it started from) and its
candidate's release config, so the traffic shifter and `safedeploy rollback` can tell from the endpoint alone where
each ending leads. Changing the set of variants cannot go through deployment guardrails (they require the same
variant names), so experiment starts and endings are plain UpdateEndpoint calls; the candidate is guarded by the
experiment itself. What each step does is the strategy's decision (`strategies.experiments`); this module makes the
calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from safedeploy import clock
from safedeploy.decision import parse_decision
from safedeploy.guardrails import resource_tags
from safedeploy.guardrails.autoscaling import retained_capacity
from safedeploy.guardrails.consistency import call_when_visible
from safedeploy.guardrails.endpoint_status import EndpointSnapshot, describe_endpoint
from safedeploy.guardrails.errors import DeploymentFailed
from safedeploy.guardrails.release_names import PRODUCTION_VARIANT, ReleaseNames
from safedeploy.guardrails.release_resources import (
    config_tags,
    ensure_endpoint_config,
    production_variant,
    serving_variant,
)
from safedeploy.guardrails.rolled_back import RolledBackMarks
from safedeploy.guardrails.settings import DeploymentSettings
from safedeploy.strategies import STRATEGIES
from safedeploy.strategies.experiments import ExperimentStep, ExperimentStrategy, StepAction


@dataclass(frozen=True)
class Experiment:
    endpoint: EndpointSnapshot
    strategy: ExperimentStrategy
    baseline_config: str
    candidate_config: str
    package_arn: str

    @classmethod
    def running_on(cls, sm: Any, snapshot: EndpointSnapshot) -> Experiment | None:
        tags = config_tags(sm, snapshot.config_name)
        if resource_tags.EXPERIMENT not in tags:
            return None
        strategy = STRATEGIES.get(tags[resource_tags.EXPERIMENT])
        if not isinstance(strategy, ExperimentStrategy):
            raise DeploymentFailed(
                f"endpoint config {snapshot.config_name} is tagged as a {tags[resource_tags.EXPERIMENT]!r} "
                "experiment, which no strategy runs"
            )
        return cls(
            endpoint=snapshot,
            strategy=strategy,
            baseline_config=tags[resource_tags.BASELINE_CONFIG],
            candidate_config=tags[resource_tags.CANDIDATE_CONFIG],
            package_arn=tags[resource_tags.PACKAGE_ARN],
        )


def start_experiment(
    sm: Any,
    live: EndpointSnapshot,
    names: ReleaseNames,
    package_arn: str,
    strategy: ExperimentStrategy,
    settings: DeploymentSettings,
) -> str:
    """Create the experiment config beside the live release config and switch the endpoint to it: the serving
    variant (keeping its scaled instance count) and the candidate at the strategy's weights, the candidate as a
    shadow variant if it `copies`."""
    config_name = names.shadow_config if strategy.copies else names.ab_config
    serving_weight, candidate_weight = strategy.start_weights(settings)
    serving = {**serving_variant(sm, live.config_name), "InitialVariantWeight": serving_weight}
    candidate = production_variant(names.candidate_variant, names.model_name, settings, weight=candidate_weight)
    production, shadows = ([serving], [candidate]) if strategy.copies else ([serving, candidate], [])
    ensure_endpoint_config(
        sm,
        config_name,
        package_arn,
        production,
        shadows,
        extra_tags={
            resource_tags.EXPERIMENT: strategy.name,
            resource_tags.BASELINE_CONFIG: live.config_name,
            resource_tags.CANDIDATE_CONFIG: names.release_config,
        },
    )
    resource_tags.mark_guarded(sm, live.arn, config_name)
    call_when_visible(
        sm.update_endpoint,
        EndpointName=live.name,
        EndpointConfigName=config_name,
        **retained_capacity(settings.autoscaling),
    )
    return config_name


def experiment_in_progress(sm: Any, endpoint_name: str, strategy: ExperimentStrategy) -> Experiment | ExperimentStep:
    """The running experiment of `strategy`, or the step that explains why there is nothing to act on."""
    snapshot = describe_endpoint(sm, endpoint_name)
    if snapshot is None:
        raise DeploymentFailed(f"endpoint {endpoint_name} does not exist")
    if snapshot.changing:
        return ExperimentStep(endpoint_name, StepAction.BUSY, snapshot.progress_line())
    experiment = Experiment.running_on(sm, snapshot)
    if experiment is None or experiment.strategy is not strategy:
        detail = f"endpoint {endpoint_name} runs no {strategy.name} experiment (config {snapshot.config_name})"
        return ExperimentStep(endpoint_name, StepAction.NO_EXPERIMENT, detail)
    return experiment


def advance_experiment(
    sm: Any,
    endpoint_name: str,
    strategy: ExperimentStrategy,
    decision: object,
    settings: DeploymentSettings,
    now: datetime | None = None,
    marks: RolledBackMarks | None = None,
) -> ExperimentStep:
    """Act on one verdict of the running experiment as its strategy decides (`strategy.advance`).

    `now`: the clock (default `safedeploy.clock`), never a time a record or event states. `marks`: where ending on
    the baseline marks the candidate's package rolled back (without it that ending fails after restoring the
    baseline).
    """
    verdict = parse_decision(decision)
    experiment = experiment_in_progress(sm, endpoint_name, strategy)
    if isinstance(experiment, ExperimentStep):
        return experiment
    return strategy.advance(_Run(sm, experiment, marks), verdict, settings, now or clock.utc_now())


@dataclass(frozen=True)
class _Run:
    """The running experiment as a strategy acts on it (`strategies.experiments.ExperimentRun`)."""

    sm: Any
    experiment: Experiment
    marks: RolledBackMarks | None

    @property
    def endpoint(self) -> EndpointSnapshot:
        return self.experiment.endpoint

    @property
    def candidate_config(self) -> str:
        return self.experiment.candidate_config

    def candidate_share(self) -> tuple[str, float]:
        snapshot = self.endpoint
        candidates = [v for v in snapshot.variants if v.name != PRODUCTION_VARIANT]
        if len(candidates) != 1 or len(snapshot.variants) != 2:
            raise DeploymentFailed(f"endpoint {snapshot.name} does not serve a baseline and one candidate")
        total = sum(v.current_weight for v in snapshot.variants)
        return candidates[0].name, (100 * candidates[0].current_weight / total if total else 0.0)

    def set_candidate_weight(self, candidate: str, weight: int) -> None:
        self.sm.update_endpoint_weights_and_capacities(
            EndpointName=self.endpoint.name,
            DesiredWeightsAndCapacities=[
                {"VariantName": PRODUCTION_VARIANT, "DesiredWeight": float(100 - weight)},
                {"VariantName": candidate, "DesiredWeight": float(weight)},
            ],
        )

    def finish(self, promote: bool) -> ExperimentStep:
        return finish_experiment(self.sm, self.experiment, promote, self.marks)


def finish_experiment(
    sm: Any, experiment: Experiment, promote: bool, marks: RolledBackMarks | None = None
) -> ExperimentStep:
    """Serve the candidate alone (promote) or the baseline alone; record the new release on the endpoint.

    Ending on the baseline marks the candidate's package rolled back in `marks` first (see `rolled_back`), so a
    package is never back to the baseline unmarked without the step failing; the way back is taken whether or not
    the mark could be written.
    """
    endpoint = experiment.endpoint
    target = experiment.candidate_config if promote else experiment.baseline_config
    unmarked = "" if promote else _mark(experiment, marks)
    sm.update_endpoint(EndpointName=endpoint.name, EndpointConfigName=target)
    if promote:
        resource_tags.write_tags(
            sm,
            endpoint.arn,
            {
                resource_tags.PREVIOUS_CONFIG: experiment.baseline_config,
                resource_tags.PACKAGE_ARN: experiment.package_arn,
            },
        )
    detail = f"{experiment.strategy.name} experiment ended: {endpoint.name} -> {target}"
    if unmarked:
        raise DeploymentFailed(f"{detail}, but {experiment.package_arn} is not marked rolled back: {unmarked}")
    return ExperimentStep(endpoint.name, StepAction.PROMOTED if promote else StepAction.ROLLED_BACK, detail)


def _mark(experiment: Experiment, marks: RolledBackMarks | None) -> str:
    """'' once the candidate's package is marked, else why not."""
    if marks is None:
        return "no rolled-back marks store was given"
    at = clock.utc_now().isoformat(timespec="seconds")
    reason = f"{experiment.strategy.name} experiment ended by a ROLLBACK verdict"
    try:
        marks.mark(experiment.package_arn, at=at, endpoint_name=experiment.endpoint.name, reason=reason)
    except (ClientError, BotoCoreError) as error:
        return str(error)
    return ""
