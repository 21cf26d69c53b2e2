"""The model's wire format: what the stub (or a model) answers is read back exactly, and anything else is refused."""

from __future__ import annotations

import pytest

from safedeploy.model_wire import (
    CONTENT_TYPES,
    CSV,
    JSON,
    PROBABILITY,
    VALUE,
    UnreadableAnswer,
    decode_answers,
    decode_rows,
    encode_answers,
    encode_rows,
)


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
def test_rows_and_answers_round_trip(content_type: str) -> None:
    rows = [[1.0, -2.5, 1e-9], [0.0, 3.0, 4.0]]
    assert decode_rows(content_type, encode_rows(content_type, rows)) == rows
    assert decode_answers(content_type, encode_answers(content_type, [0.25, 0.75]), PROBABILITY) == [0.25, 0.75]


@pytest.mark.parametrize(
    ("content_type", "payload", "kind", "values"),
    [
        (CSV, b"0.1\n0.9\n", PROBABILITY, [0.1, 0.9]),
        (CSV, b"0.1,0.9", PROBABILITY, [0.1, 0.9]),
        (CSV, b"-12.5\n1e6\n", VALUE, [-12.5, 1e6]),
        (JSON, b'{"predictions": [1, 2.5]}', VALUE, [1.0, 2.5]),
        (JSON, b'{"predictions": []}', VALUE, []),
    ],
)
def test_answers_are_read_in_the_contracts_format(
    content_type: str, payload: bytes, kind: str, values: list[float]
) -> None:
    assert decode_answers(content_type, payload, kind) == values


@pytest.mark.parametrize(
    ("content_type", "payload", "kind", "problem"),
    [
        (CSV, b"1.5", PROBABILITY, "not a probability in [0, 1]"),
        (CSV, b"nan", VALUE, "not a finite number"),
        (CSV, b"ok", VALUE, "not a number"),
        (CSV, b"\xff", VALUE, "not UTF-8"),
        (JSON, b"[1, 2]", VALUE, 'not a JSON object with "predictions"'),
        (JSON, b'{"predictions": [true]}', VALUE, "holds a bool"),
        (JSON, b'{"predictions": ["1"]}', VALUE, "holds a str"),
        (JSON, b'{"predictions": [1e400]}', VALUE, "not a finite number"),
        (JSON, b"{", VALUE, "not JSON"),
        (JSON, b"[" * 100_000, VALUE, "not JSON"),
    ],
)
def test_anything_else_is_unreadable(content_type: str, payload: bytes, kind: str, problem: str) -> None:
    with pytest.raises(UnreadableAnswer) as refused:
        decode_answers(content_type, payload, kind)
    assert problem in str(refused.value)
