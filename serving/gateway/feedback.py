"""The feedback body: which prediction, and what the truth turned out to be."""

from __future__ import annotations

from .errors import GatewayError
from .request_body import load_json


def _invalid(message: str) -> GatewayError:
    return GatewayError(422, "invalid_feedback", message)


def parse_feedback(body: bytes) -> tuple[str, int]:
    document = load_json(body)
    if not isinstance(document, dict):
        raise _invalid('the body must be a JSON object {"prediction_id": "...", "label": 0 or 1}')
    prediction_id = document.get("prediction_id")
    label = document.get("label")
    if not isinstance(prediction_id, str) or not prediction_id:
        raise _invalid("prediction_id is required: the id /predict returned with the prediction")
    if isinstance(label, bool) or label not in (0, 1):
        raise _invalid("label must be 0 or 1, the true class of the instance")
    return prediction_id, int(label)
