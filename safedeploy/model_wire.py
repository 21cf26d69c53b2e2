"""How rows reach the model's endpoint and its answers come back, for each content type a serving contract may name.

    text/csv          request: one row per line, numbers separated by commas   answer: one number per line
    application/json  request: {"instances": [[...], ...]}                      answer: {"predictions": [...]}

An answer is a probability of the positive class (`probability`: the gateway adds a label at the contract's
threshold) or a value (`value`: a regressor's estimate). Standard library only: the gateway image carries this module
(`.dockerignore`), so the gateway, the smoke tests, the stub endpoint and the rehearsal speak one format.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence

CSV = "text/csv"
JSON = "application/json"
CONTENT_TYPES = (CSV, JSON)
PROBABILITY, VALUE = "probability", "value"
ANSWER_KINDS = (PROBABILITY, VALUE)
INSTANCES, PREDICTIONS = "instances", "predictions"
_CSV_SEPARATORS = re.compile(r"[\s,]+")


class UnreadableAnswer(ValueError):
    """The endpoint's answer is not one finite number per row in the contract's format."""


def encode_rows(content_type: str, rows: Sequence[Sequence[float]]) -> bytes:
    """repr() is the shortest text that reads back as the same float, so the model sees exactly what was sent."""
    if content_type == JSON:
        return json.dumps({INSTANCES: [list(row) for row in rows]}, separators=(",", ":")).encode("ascii")
    return "".join(",".join(map(repr, row)) + "\n" for row in rows).encode("ascii")


def decode_rows(content_type: str, body: bytes) -> list[list[float]]:
    """What `encode_rows` wrote (the stub endpoint's side); not a validator of callers' input."""
    if content_type == JSON:
        return [[float(value) for value in row] for row in json.loads(body)[INSTANCES]]
    return [[float(cell) for cell in line.split(",")] for line in body.decode("utf-8").splitlines() if line.strip()]


def encode_answers(content_type: str, values: Sequence[float]) -> bytes:
    if content_type == JSON:
        return json.dumps({PREDICTIONS: list(values)}).encode("ascii")
    return "".join(f"{value:.6f}\n" for value in values).encode("ascii")


def _json_answers(payload: bytes) -> list[object]:
    try:
        document = json.loads(payload)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise UnreadableAnswer("the answer is not JSON") from None
    predictions = document.get(PREDICTIONS) if isinstance(document, dict) else None
    if not isinstance(predictions, list):
        raise UnreadableAnswer(f'the answer is not a JSON object with "{PREDICTIONS}": a list of numbers')
    return predictions


def decode_answers(content_type: str, payload: bytes, kind: str) -> list[float]:
    """The numbers the model answered; a probability outside [0, 1], a non-number or a non-finite one is refused."""
    tokens: list[object]
    if content_type == JSON:
        tokens = _json_answers(payload)
    else:
        try:
            tokens = [token for token in _CSV_SEPARATORS.split(payload.decode("utf-8")) if token]
        except UnicodeDecodeError:
            raise UnreadableAnswer("the answer is not UTF-8 text") from None
    values = []
    for token in tokens:
        if content_type == JSON and (isinstance(token, bool) or not isinstance(token, int | float)):
            raise UnreadableAnswer(f"the answer holds a {type(token).__name__}, not a number")
        try:
            value = float(token)  # a CSV cell, or a JSON number checked above
        except (ValueError, OverflowError):
            raise UnreadableAnswer("the answer holds something that is not a number") from None
        if not math.isfinite(value) or (kind == PROBABILITY and not 0.0 <= value <= 1.0):
            expected = "a probability in [0, 1]" if kind == PROBABILITY else "a finite number"
            raise UnreadableAnswer(f"the answer holds {value!r}, not {expected}")
        values.append(value)
    return values
