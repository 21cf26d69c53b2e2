"""Caller payloads (JSON or CSV) checked against the feature schema; the model's own format is `model_wire`'s.

Messages name the row and column that is wrong but never echo its value, so they are safe to log.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .errors import GatewayError
from .request_body import CSV, JSON, load_json, unsupported_media_type

Rows = list[list[float]]


@dataclass(frozen=True)
class FeatureSchema:
    feature_count: int
    max_instances: int

    def check_row_count(self, count: int) -> None:
        if count == 0:
            raise _invalid("no instances: send at least one row of features")
        if count > self.max_instances:
            raise GatewayError(
                422, "too_many_instances", f"{count} instances in one request; at most {self.max_instances} allowed"
            )

    def check_width(self, width: int, where: str) -> None:
        if width != self.feature_count:
            raise _invalid(f"{where} has {width} features; the model takes {self.feature_count}")


def _invalid(message: str) -> GatewayError:
    return GatewayError(422, "invalid_instances", message)


def _finite(value: float, where: str) -> float:
    if not math.isfinite(value):
        raise _invalid(f"{where} must be a finite number")
    return value


def _json_number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid(f"{where} must be a number, got {type(value).__name__}")
    try:
        return _finite(float(value), where)
    except OverflowError:
        raise _invalid(f"{where} is too large for a 64-bit float") from None


def rows_from_json(body: bytes, schema: FeatureSchema) -> Rows:
    document = load_json(body)
    instances = document.get("instances") if isinstance(document, dict) else None
    if not isinstance(instances, list):
        raise _invalid('the body must be a JSON object with "instances": a list of rows, each a list of numbers')
    schema.check_row_count(len(instances))
    rows: Rows = []
    for index, row in enumerate(instances):
        if not isinstance(row, list):
            raise _invalid(f"instances[{index}] must be a list of {schema.feature_count} numbers")
        schema.check_width(len(row), f"instances[{index}]")
        rows.append([_json_number(value, f"instances[{index}][{column}]") for column, value in enumerate(row)])
    return rows


def _csv_number(text: str, where: str) -> float:
    try:
        return _finite(float(text), where)
    except ValueError:
        raise _invalid(f"{where} is not a number (send rows of numbers without a header row)") from None


def rows_from_csv(body: bytes, schema: FeatureSchema) -> Rows:
    try:
        lines = [line for line in body.decode("utf-8").splitlines() if line.strip()]
    except UnicodeDecodeError:
        raise GatewayError(400, "invalid_csv", "the body is not UTF-8 text") from None
    schema.check_row_count(len(lines))
    rows: Rows = []
    for number, line in enumerate(lines, start=1):
        cells = line.split(",")
        schema.check_width(len(cells), f"row {number}")
        rows.append([_csv_number(cell, f"row {number}, column {column}") for column, cell in enumerate(cells, 1)])
    return rows


def parse_instances(media_type: str, body: bytes, schema: FeatureSchema) -> Rows:
    if media_type == JSON:
        return rows_from_json(body, schema)
    if media_type == CSV:
        return rows_from_csv(body, schema)
    raise unsupported_media_type(media_type, (JSON, CSV))
