"""A/B: the candidate serves a growing share of live traffic, one step of `ab_weights` per passing verdict.

Weights are percentages of traffic (the baseline keeps the rest). PROMOTE moves to the next step of `ab_weights`
once the current weight has served `wait_interval_seconds`; the step to 100 % ends the test with the candidate
alone. ROLLBACK sets the candidate's weight to 0 at once (UpdateEndpointWeightsAndCapacities acts in seconds, a new
endpoint config in minutes); the next verdict, whatever it is, then ends the test with the baseline alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from safedeploy.decision import Decision
from safedeploy.guardrails.release_names import PRODUCTION_VARIANT
from safedeploy.guardrails.traffic_share import TrafficShare, weight_share
from safedeploy.strategies.base import RolloutSettings
from safedeploy.strategies.experiments import ExperimentRun, ExperimentStep, ExperimentStrategy, Measured, StepAction

if TYPE_CHECKING:
    from safedeploy.guardrails.endpoint_status import EndpointSnapshot


def next_weight(schedule: Sequence[int], share: float) -> int:
    """The first schedule step above the current share (100 when the share is past the schedule)."""
    return next((step for step in schedule if step > share + 1e-6), 100)


class AB(ExperimentStrategy):
    name = "ab"

    def share(self, settings: RolloutSettings) -> TrafficShare:
        weights = settings.ab_weights
        steps = tuple(weight_share(weight, 100 - weight) for weight in weights)
        return TrafficShare(self.name, settings.instance_count, weights[0] / 100, steps)

    def start_weights(self, settings: RolloutSettings) -> tuple[float, float]:
        first = settings.ab_weights[0]
        return float(100 - first), float(first)

    def measure(self, snapshot: EndpointSnapshot, started_at: datetime, settings: RolloutSettings) -> Measured | str:
        (variant,) = [v for v in snapshot.variants if v.name != PRODUCTION_VARIANT] or (None,)
        if variant is None:
            return f"endpoint {snapshot.name}: A/B experiment without a candidate variant"
        baseline_weight = sum(v.current_weight for v in snapshot.variants if v.name == PRODUCTION_VARIANT)
        share = weight_share(variant.current_weight, baseline_weight)
        # A weight step (UpdateEndpointWeightsAndCapacities) moves LastModifiedTime: the current share begins there.
        return Measured(variant.name, share, share, max(started_at, snapshot.last_modified_at or started_at))

    def advance(
        self, run: ExperimentRun, decision: Decision, settings: RolloutSettings, now: datetime
    ) -> ExperimentStep:
        """A PROMOTE raises the weight only once the current one has served `wait_interval_seconds` by the clock:
        after the first proof of non-inferiority every minute says PROMOTE, and each weight must still bake."""
        endpoint_name = run.endpoint.name
        candidate, share = run.candidate_share()
        if share <= 0:
            return run.finish(promote=False)
        if decision is Decision.ROLLBACK:
            run.set_candidate_weight(candidate, 0)
            return ExperimentStep(endpoint_name, StepAction.WEIGHTS, f"{candidate} {share:g}% -> 0% (rolled back)")
        if decision is Decision.CONTINUE:
            return ExperimentStep(endpoint_name, StepAction.UNCHANGED, f"{candidate} stays at {share:g}%")
        since = run.endpoint.last_modified_at
        if since is not None and (now - since).total_seconds() < settings.wait_interval_seconds:
            until = (since + timedelta(seconds=settings.wait_interval_seconds)).isoformat(timespec="seconds")
            return ExperimentStep(endpoint_name, StepAction.UNCHANGED, f"{candidate} holds {share:g}% until {until}")
        weight = next_weight(settings.ab_weights, share)
        if weight >= 100:
            return run.finish(promote=True)
        run.set_candidate_weight(candidate, weight)
        return ExperimentStep(endpoint_name, StepAction.WEIGHTS, f"{candidate} {share:g}% -> {weight}%")


AB_TEST = AB()
