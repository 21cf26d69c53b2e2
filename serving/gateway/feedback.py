"""What a caller is told of an answer, and how its feedback is judged: by the kind of answer the model gives.

A probability is shown with its label at the contract's threshold, and feedback names the true label; a value (a
regressor's estimate) is shown as it is, and feedback names the true value, correct within the contract's tolerance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from safedeploy.model_wire import PROBABILITY

from .errors import GatewayError
from .request_body import load_json


def _invalid(message: str) -> GatewayError:
    return GatewayError(422, "invalid_feedback", message)


@dataclass(frozen=True)
class AnswerRules:
    kind: str
    threshold: float
    tolerance: float

    @property
    def truth_field(self) -> str:
        return "label" if self.kind == PROBABILITY else "value"

    def predicted(self, answer: float) -> float:
        """What the prediction id records, and feedback is compared with: the label, or the value itself."""
        return int(answer >= self.threshold) if self.kind == PROBABILITY else answer

    def shown(self, answer: float) -> dict[str, Any]:
        if self.kind == PROBABILITY:
            return {"label": self.predicted(answer), "score": answer}
        return {"value": answer}

    def correct(self, predicted: float, truth: float) -> bool:
        if self.kind == PROBABILITY:
            return predicted == truth
        return abs(truth - predicted) <= self.tolerance

    def parse_feedback(self, body: bytes) -> tuple[str, float]:
        """The prediction id and the truth it reports: a label 0 or 1, or a finite number."""
        field = self.truth_field
        document = load_json(body)
        if not isinstance(document, dict):
            raise _invalid(f'the body must be a JSON object {{"prediction_id": "...", "{field}": ...}}')
        prediction_id = document.get("prediction_id")
        truth = document.get(field)
        if not isinstance(prediction_id, str) or not prediction_id:
            raise _invalid("prediction_id is required: the id /predict returned with the prediction")
        if self.kind == PROBABILITY:
            if isinstance(truth, bool) or truth not in (0, 1):
                raise _invalid("label must be 0 or 1, the true class of the instance")
            return prediction_id, int(truth)
        if isinstance(truth, bool) or not isinstance(truth, int | float) or not math.isfinite(truth):
            raise _invalid("value must be a finite number, the true value of the instance")
        return prediction_id, float(truth)
