"""What shadow and A/B tests share: a change of the set of variants, which deployment guardrails cannot make, so
SageMaker has no schedule and no update policy for them. The deploy starts one (`start_weights`), the canary analysis
measures it (`measure`) and the traffic shifter moves it on verdicts (`advance`), each through `guardrails.experiment`,
which makes the AWS calls; the strategy only decides.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from safedeploy.decision import Decision
from safedeploy.strategies.base import Bake, RolloutSettings, StepKeys

if TYPE_CHECKING:  # a type only: synth reads the strategies without botocore
    from safedeploy.guardrails.endpoint_status import EndpointSnapshot


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
class Measured:
    """A running experiment as the canary analysis compares it: the candidate variant, its planned share of requests,
    the fraction of both variants' Invocations that implies, and since when the candidate has had that share."""

    candidate: str
    share: float
    expected_fraction: float
    since: datetime


class ExperimentRun(Protocol):
    """The running experiment a verdict acts on; `guardrails.experiment` provides it with the AWS calls."""

    @property
    def endpoint(self) -> EndpointSnapshot: ...
    @property
    def candidate_config(self) -> str: ...
    def candidate_share(self) -> tuple[str, float]:
        """The candidate variant and its share of traffic in percent."""
        ...

    def set_candidate_weight(self, candidate: str, weight: int) -> None: ...
    def finish(self, promote: bool) -> ExperimentStep:
        """Serve the candidate alone (promote) or the baseline alone, marking the candidate rolled back."""
        ...


class ExperimentStrategy(ABC):
    """A strategy that runs an experiment: its `name` tags the experiment config and names its comparison."""

    name: str
    step: StepKeys | None = None
    guardrails = False
    copies = False  # the candidate is a shadow variant: it receives copies and answers nobody

    @property
    def comparison(self) -> str:
        return self.name

    def schedule(self, settings: RolloutSettings) -> tuple[Bake, ...]:
        return ()

    def waiting(self, settings: RolloutSettings) -> tuple[int, str]:
        return 0, "no SageMaker wait (the traffic shifter moves an experiment on verdicts)"

    def update_policy(self, settings: RolloutSettings) -> None:
        return None

    @abstractmethod
    def start_weights(self, settings: RolloutSettings) -> tuple[float, float]:
        """The serving variant's and the candidate's InitialVariantWeight."""

    @abstractmethod
    def measure(self, snapshot: EndpointSnapshot, started_at: datetime, settings: RolloutSettings) -> Measured | str:
        """The experiment as the canary analysis compares it, or why it cannot be compared."""

    @abstractmethod
    def advance(
        self, run: ExperimentRun, decision: Decision, settings: RolloutSettings, now: datetime
    ) -> ExperimentStep:
        """Act on one verified verdict; `now` is the clock's (never a time a record or event states)."""
