"""Shadow testing: the candidate receives a copy of live traffic and answers nobody until it is promoted.

SageMaker copies to the shadow variant the share of requests given by the ratio of its weight to the production
variant's weight, so the production variant keeps weight 1 and the shadow gets `shadow_sampling_percent / 100`.
An endpoint config with shadow variants holds exactly one production and one shadow variant.
"""

from __future__ import annotations

from typing import Any

from safedeploy.decision import Decision, parse_decision
from safedeploy.guardrails.autoscaling import retained_capacity
from safedeploy.guardrails.endpoint_status import EndpointSnapshot
from safedeploy.guardrails.experiment import (
    ExperimentKind,
    ExperimentStep,
    StepAction,
    experiment_in_progress,
    finish_experiment,
    start_experiment,
)
from safedeploy.guardrails.release_names import ReleaseNames
from safedeploy.guardrails.release_resources import production_variant, serving_variant
from safedeploy.guardrails.rolled_back import RolledBackMarks
from safedeploy.guardrails.settings import DeploymentSettings


def start_shadow(
    sm: Any, live: EndpointSnapshot, names: ReleaseNames, package_arn: str, settings: DeploymentSettings
) -> str:
    serving = {**serving_variant(sm, live.config_name), "InitialVariantWeight": 1.0}
    shadow = production_variant(
        names.candidate_variant, names.model_name, settings, weight=settings.shadow_sampling_percent / 100
    )
    return start_experiment(
        sm,
        live,
        names,
        package_arn,
        ExperimentKind.SHADOW,
        [serving],
        [shadow],
        update_options=retained_capacity(settings.autoscaling),
    )


def advance_shadow(
    sm: Any, endpoint_name: str, decision: object, marks: RolledBackMarks | None = None
) -> ExperimentStep:
    """PROMOTE serves the candidate alone, ROLLBACK the baseline alone (marking the candidate's package rolled back
    in `marks`), CONTINUE keeps copying traffic."""
    verdict = parse_decision(decision)
    experiment = experiment_in_progress(sm, endpoint_name, ExperimentKind.SHADOW)
    if isinstance(experiment, ExperimentStep):
        return experiment
    if verdict is Decision.CONTINUE:
        return ExperimentStep(endpoint_name, StepAction.UNCHANGED, f"shadow of {experiment.candidate_config} continues")
    return finish_experiment(sm, experiment, promote=verdict is Decision.PROMOTE, marks=marks)


def promote_shadow(sm: Any, endpoint_name: str) -> ExperimentStep:
    return advance_shadow(sm, endpoint_name, Decision.PROMOTE)
