"""What the model receives is exactly what the caller sent, whatever the input format."""

from __future__ import annotations

import pytest

from safedeploy.model_wire import CONTENT_TYPES, encode_rows
from serving.gateway.instances import FeatureSchema, parse_instances

SCHEMA = FeatureSchema(feature_count=3, max_instances=5)


def test_json_and_csv_give_the_same_rows() -> None:
    from_json = parse_instances("application/json", b'{"instances": [[1, 0.1, -2e-9], [3, 4, 5]]}', SCHEMA)
    from_csv = parse_instances("text/csv", b"1,0.1,-2e-9\r\n3, 4 ,5\n", SCHEMA)
    assert from_json == from_csv == [[1.0, 0.1, -2e-9], [3.0, 4.0, 5.0]]


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
def test_the_rows_sent_to_the_model_read_back_to_the_same_floats(content_type: str) -> None:
    rows = [[0.1 + 0.2, 1 / 3, 123456789.123456789], [1e-300, -0.0, 2.0**60]]
    assert parse_instances(content_type, encode_rows(content_type, rows), SCHEMA) == rows
