"""Model quality over time: the live model's accuracy from gateway feedback against its registered evaluation.

H0: live accuracy >= registered accuracy - margin. The estimate is cumulative since the model went live (the
state's counts); its variance adds the evaluation's own sampling variance (held-out rows), so a registered value
that was lucky is not read as degradation. The p-value is the mSPRT's always-valid p-value (the canary engine's),
kept as a running minimum across hourly looks, so looking every hour does not inflate the false-alarm rate.
"""

from __future__ import annotations

from dataclasses import dataclass

from safedeploy.stats import msprt_p_value


@dataclass
class QualityState:
    received: int = 0
    correct: int = 0
    p_value: float = 1.0


@dataclass(frozen=True)
class QualityCheck:
    received: int
    accuracy: float | None
    reference_accuracy: float
    p_value: float
    degraded: bool


def accuracy_check(
    state: QualityState,
    received: int,
    correct: int,
    *,
    reference_accuracy: float,
    reference_rows: int,
    margin: float,
    alpha: float,
    min_feedback: int = 100,
) -> QualityCheck:
    """Fold one hour's feedback counts into `state` and test for degradation beyond `margin`."""
    if not 0 <= correct <= received:
        raise ValueError(f"feedback counts must satisfy 0 <= correct <= received, got {correct} of {received}")
    state.received += received
    state.correct += correct
    if state.received < min_feedback:
        return QualityCheck(state.received, None, reference_accuracy, state.p_value, False)
    accuracy = state.correct / state.received
    spread = max(accuracy * (1 - accuracy), 1.0 / state.received)
    variance = spread / state.received + reference_accuracy * (1 - reference_accuracy) / max(reference_rows, 1)
    p_value = msprt_p_value(
        accuracy, variance, tau=max(margin, 0.01), null=reference_accuracy - margin, alternative="less"
    )
    state.p_value = min(state.p_value, p_value)
    return QualityCheck(state.received, accuracy, reference_accuracy, state.p_value, state.p_value <= alpha)
