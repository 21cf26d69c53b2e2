"""What a request to the model looks like, declared once by the model (`model.contract` in cdk.json).

    "contract": {
      "content_type": "text/csv",                  # what the endpoint reads (the gateway sends rows in it)
      "features": ["age", "plan", "tenure", ...],  # the request's columns, in order
      "health_check": [25, 1, 0, ...]              # one row the live model must answer with a prediction
    }

Synth publishes it as the environment's SSM parameter `serving-contract` and gives the gateway its feature count;
the smoke test of both deploy builds and `safedeploy smoke-test` send its health-check row; the rehearsal's traffic is
that row. Plain Python and pydantic: the Lambda layer and the deploy builds carry it.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from pydantic import ValidationInfo, field_validator, model_validator

from safedeploy.errors import ConfigError
from safedeploy.section_fields import Text, TextList
from safedeploy.sections import Section, parsed_json, rule, validated

CSV = "text/csv"
FEATURE_NAME_PATTERN = r"[A-Za-z_][A-Za-z0-9_.-]{0,63}"
MAX_FEATURES = 10_000  # the gateway's bound on a row's width
# The published contract is a standard-tier SSM String parameter: at most 4096 characters (docs/aws-behaviours.md).
MAX_PUBLISHED_CHARACTERS = 4096


class ServingContract(Section):
    content_type: Text(CSV, CSV) = CSV
    features: TextList
    health_check: tuple[float, ...]

    @field_validator("features")
    @classmethod
    def _named_columns(cls, features: tuple[str, ...]) -> tuple[str, ...]:
        bad = next((name for name in features if not re.fullmatch(FEATURE_NAME_PATTERN, name)), None)
        if not features or len(features) > MAX_FEATURES or bad is not None or len(set(features)) != len(features):
            raise rule(
                f"{list(features)[:5]!r}{'...' if len(features) > 5 else ''} must be 1 to {MAX_FEATURES} distinct "
                f"column names like 'tenure_months' (the request's columns, in order)"
                + (f"; {bad!r} is not one" if bad is not None else "")
            )
        return features

    @field_validator("health_check", mode="before")
    @classmethod
    def _one_row(cls, row: Any, info: ValidationInfo) -> tuple[float, ...]:
        features = info.data.get("features", ())
        numbers = isinstance(row, list | tuple) and all(
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) for value in row
        )
        if not numbers or len(row) != len(features):
            raise rule(f"{row!r} must be one row of {len(features)} finite numbers, one per feature")
        return tuple(float(value) for value in row)

    @model_validator(mode="after")
    def _fits_its_parameter(self) -> ServingContract:
        size = len(self.to_json())
        if size > MAX_PUBLISHED_CHARACTERS:
            raise rule(
                f"published as the serving-contract parameter it takes {size} characters; a standard SSM parameter "
                f"holds at most {MAX_PUBLISHED_CHARACTERS}: use shorter column names"
            )
        return self

    @property
    def feature_count(self) -> int:
        return len(self.features)

    def health_check_body(self) -> str:
        """The health-check row as the endpoint reads it (a CSV line: 25.0 is written 25)."""
        return ",".join(f"{value:g}" for value in self.health_check)

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True)

    @classmethod
    def from_mapping(cls, raw: object, path: str = "model.contract") -> ServingContract:
        if raw is None:
            raise ConfigError(
                f"{path}: missing; declare the model's request: content_type, features and a health_check row "
                "(docs/model.md)"
            )
        return validated(cls, raw, path)

    @classmethod
    def from_json(cls, text: str, path: str = "serving-contract") -> ServingContract:
        return cls.from_mapping(parsed_json(text, path), path)
