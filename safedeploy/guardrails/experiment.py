"""Shadow and A/B experiments: the endpoint config that runs one, and how one ends (promote or back to baseline).

An experiment config is tagged with its kind, its baseline (the release config it started from) and its candidate's
release config, so the traffic shifter and `safedeploy rollback` can tell from the endpoint alone where each ending
leads. Changing the set of variants cannot go through deployment guardrails (they require the same variant names),
so experiment starts and endings are plain UpdateEndpoint calls; the candidate is guarded by the experiment itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from safedeploy import clock
from safedeploy.guardrails import resource_tags
from safedeploy.guardrails.consistency import call_when_visible
from safedeploy.guardrails.endpoint_status import EndpointSnapshot, describe_endpoint
from safedeploy.guardrails.errors import DeploymentFailed
from safedeploy.guardrails.release_names import ReleaseNames
from safedeploy.guardrails.release_resources import config_tags, ensure_endpoint_config
from safedeploy.guardrails.rolled_back import RolledBackMarks


class ExperimentKind(StrEnum):
    SHADOW = "shadow"
    AB = "ab"


class StepAction(StrEnum):
    BUSY = "busy"
    NO_EXPERIMENT = "no-experiment"
    UNCHANGED = "unchanged"
    WEIGHTS = "weights"
    PROMOTED = "promoted"
    ROLLED_BACK = "rolled-back"


@dataclass(frozen=True)
class ExperimentStep:
    """What one verdict did to the endpoint; the traffic shifter logs it and acts again on the next verdict."""

    endpoint_name: str
    action: StepAction
    detail: str


@dataclass(frozen=True)
class Experiment:
    endpoint: EndpointSnapshot
    kind: ExperimentKind
    baseline_config: str
    candidate_config: str
    package_arn: str

    @classmethod
    def running_on(cls, sm: Any, snapshot: EndpointSnapshot) -> Experiment | None:
        tags = config_tags(sm, snapshot.config_name)
        if resource_tags.EXPERIMENT not in tags:
            return None
        return cls(
            endpoint=snapshot,
            kind=ExperimentKind(tags[resource_tags.EXPERIMENT]),
            baseline_config=tags[resource_tags.BASELINE_CONFIG],
            candidate_config=tags[resource_tags.CANDIDATE_CONFIG],
            package_arn=tags[resource_tags.PACKAGE_ARN],
        )


def start_experiment(
    sm: Any,
    live: EndpointSnapshot,
    names: ReleaseNames,
    package_arn: str,
    kind: ExperimentKind,
    production_variants: Sequence[Mapping[str, Any]],
    shadow_variants: Sequence[Mapping[str, Any]] = (),
    update_options: Mapping[str, Any] | None = None,
) -> str:
    """Create the experiment config beside the live release config and switch the endpoint to it.

    `update_options`: extra UpdateEndpoint fields, e.g. keeping the serving variant's scaled instance count.
    """
    config_name = names.shadow_config if kind is ExperimentKind.SHADOW else names.ab_config
    ensure_endpoint_config(
        sm,
        config_name,
        package_arn,
        production_variants,
        shadow_variants,
        extra_tags={
            resource_tags.EXPERIMENT: kind.value,
            resource_tags.BASELINE_CONFIG: live.config_name,
            resource_tags.CANDIDATE_CONFIG: names.release_config,
        },
    )
    resource_tags.mark_guarded(sm, live.arn, config_name)
    call_when_visible(
        sm.update_endpoint, EndpointName=live.name, EndpointConfigName=config_name, **(update_options or {})
    )
    return config_name


def experiment_in_progress(sm: Any, endpoint_name: str, kind: ExperimentKind) -> Experiment | ExperimentStep:
    """The running experiment of `kind`, or the step that explains why there is nothing to act on."""
    snapshot = describe_endpoint(sm, endpoint_name)
    if snapshot is None:
        raise DeploymentFailed(f"endpoint {endpoint_name} does not exist")
    if snapshot.changing:
        return ExperimentStep(endpoint_name, StepAction.BUSY, snapshot.progress_line())
    experiment = Experiment.running_on(sm, snapshot)
    if experiment is None or experiment.kind is not kind:
        detail = f"endpoint {endpoint_name} runs no {kind.value} experiment (config {snapshot.config_name})"
        return ExperimentStep(endpoint_name, StepAction.NO_EXPERIMENT, detail)
    return experiment


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
    detail = f"{experiment.kind.value} experiment ended: {endpoint.name} -> {target}"
    if unmarked:
        raise DeploymentFailed(f"{detail}, but {experiment.package_arn} is not marked rolled back: {unmarked}")
    return ExperimentStep(endpoint.name, StepAction.PROMOTED if promote else StepAction.ROLLED_BACK, detail)


def _mark(experiment: Experiment, marks: RolledBackMarks | None) -> str:
    """'' once the candidate's package is marked, else why not."""
    if marks is None:
        return "no rolled-back marks store was given"
    at = clock.utc_now().isoformat(timespec="seconds")
    reason = f"{experiment.kind.value} experiment ended by a ROLLBACK verdict"
    try:
        marks.mark(experiment.package_arn, at=at, endpoint_name=experiment.endpoint.name, reason=reason)
    except (ClientError, BotoCoreError) as error:
        return str(error)
    return ""
