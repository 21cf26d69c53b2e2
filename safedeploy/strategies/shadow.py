"""Shadow: the candidate receives a copy of `shadow_sampling_percent` of live requests and answers nobody until a
PROMOTE verdict serves it alone (ROLLBACK serves the baseline alone, CONTINUE keeps copying).

SageMaker copies to the shadow variant the share of requests given by the ratio of its weight to the production
variant's weight, so the production variant keeps weight 1 and the shadow gets `shadow_sampling_percent / 100`.
An endpoint config with shadow variants holds exactly one production and one shadow variant.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from safedeploy.decision import Decision
from safedeploy.guardrails.release_names import PRODUCTION_VARIANT
from safedeploy.guardrails.traffic_share import TrafficShare
from safedeploy.strategies.base import RolloutSettings
from safedeploy.strategies.experiments import ExperimentRun, ExperimentStep, ExperimentStrategy, Measured, StepAction

if TYPE_CHECKING:
    from safedeploy.guardrails.endpoint_status import EndpointSnapshot


class Shadow(ExperimentStrategy):
    name = "shadow"
    copies = True

    def share(self, settings: RolloutSettings) -> TrafficShare:
        share = settings.shadow_sampling_percent / 100
        return TrafficShare(self.name, settings.instance_count, share, (share,), copy=True)

    def start_weights(self, settings: RolloutSettings) -> tuple[float, float]:
        return 1.0, settings.shadow_sampling_percent / 100

    def measure(self, snapshot: EndpointSnapshot, started_at: datetime, settings: RolloutSettings) -> Measured | str:
        (shadow,) = snapshot.shadow_variants or (None,)
        if shadow is None:
            return f"endpoint {snapshot.name}: shadow experiment without a shadow variant"
        # The shadow receives a copy of (its weight / the production weight) of the requests.
        production = sum(v.current_weight for v in snapshot.variants if v.name == PRODUCTION_VARIANT)
        share = shadow.current_weight / production if production else settings.shadow_sampling_percent / 100
        return Measured(shadow.name, share, share / (1 + share), started_at)

    def advance(
        self, run: ExperimentRun, decision: Decision, settings: RolloutSettings, now: datetime
    ) -> ExperimentStep:
        if decision is Decision.CONTINUE:
            detail = f"shadow of {run.candidate_config} continues"
            return ExperimentStep(run.endpoint.name, StepAction.UNCHANGED, detail)
        return run.finish(promote=decision is Decision.PROMOTE)


SHADOW = Shadow()
