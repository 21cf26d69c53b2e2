"""What a request to the model and its answer look like, declared once by the model (`model.contract` in cdk.json).

    "contract": {
      "content_type": "text/csv",                  # text/csv or application/json (safedeploy/model_wire.py)
      "features": ["age", "plan", "tenure", ...],  # the request's columns, in order
      "health_check": [25, 1, 0, ...],             # one row the live model must answer with a healthy answer
      "answer": {"kind": "probability", "threshold": 0.5}  # or {"kind": "value", "tolerance": 2, "healthy": [0, 99]}
    }

Synth publishes it as the environment's SSM parameter `serving-contract` and gives the gateway its wire format
(`gateway_environment`); the smoke test of both deploy builds and `safedeploy smoke-test` send its health-check row
and judge the answer; the rehearsal's traffic is that row. Plain Python and pydantic: the Lambda layer and the deploy
builds carry it.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Literal

from pydantic import ValidationInfo, field_validator, model_validator

from safedeploy.errors import ConfigError
from safedeploy.model_wire import CSV, JSON, PROBABILITY, VALUE, decode_answers, encode_rows
from safedeploy.section_fields import Number, TextList, is_number
from safedeploy.sections import Section, parsed_json, rule, validated

FEATURE_NAME_PATTERN = r"[A-Za-z_][A-Za-z0-9_.-]{0,63}"
MAX_FEATURES = 10_000  # the gateway's bound on a row's width
# The published contract is a standard-tier SSM String parameter: at most 4096 characters (docs/aws-behaviours.md).
MAX_PUBLISHED_CHARACTERS = 4096


class AnswerContract(Section):
    """What the model answers per row. A `probability` of the positive class gets a label at `threshold`, and
    feedback is a label; a `value` (a regressor's estimate) is returned as it is, and feedback within `tolerance` of
    it counts as correct. `healthy` bounds the health-check row's answer (a probability is always within [0, 1])."""

    kind: Literal["probability", "value"] = PROBABILITY
    threshold: Number(0.0, 1.0) | None = None
    tolerance: Number(0.0, 1e12) | None = None
    healthy: tuple[float, float] | None = None

    @field_validator("healthy", mode="before")
    @classmethod
    def _range(cls, bounds: Any) -> tuple[float, float]:
        numbers = isinstance(bounds, list | tuple) and all(is_number(value) for value in bounds)
        if not numbers or len(bounds) != 2 or bounds[0] > bounds[1]:
            raise rule(f"{bounds!r} must be [low, high]: two finite numbers, low <= high")
        return (float(bounds[0]), float(bounds[1]))

    @model_validator(mode="after")
    def _settings_of_its_kind(self) -> AnswerContract:
        if self.kind == PROBABILITY and self.tolerance is not None:
            raise rule("tolerance is for a value answer; a probability's feedback is a label (use threshold)")
        if self.kind == VALUE and self.threshold is not None:
            raise rule("threshold is for a probability answer; a value's feedback is judged by tolerance")
        if self.kind == VALUE and self.tolerance is None:
            raise rule("a value answer needs tolerance: how far feedback may be from the answer and count as correct")
        return self

    @property
    def label_threshold(self) -> float:
        return 0.5 if self.threshold is None else self.threshold

    def healthy_range(self) -> tuple[float, float]:
        if self.healthy is not None:
            return self.healthy
        return (0.0, 1.0) if self.kind == PROBABILITY else (-math.inf, math.inf)


class ServingContract(Section):
    content_type: Literal[CSV, JSON] = CSV
    features: TextList
    health_check: tuple[float, ...]
    answer: AnswerContract = AnswerContract()

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
        numbers = isinstance(row, list | tuple) and all(is_number(value) for value in row)
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
        """The health-check row in the contract's content type, as the gateway would send it."""
        return encode_rows(self.content_type, [self.health_check]).decode("ascii")

    def read_answers(self, payload: bytes) -> tuple[float, ...]:
        """The endpoint's answer as numbers (UnreadableAnswer when it is not one per row in the contract's format)."""
        return tuple(decode_answers(self.content_type, payload, self.answer.kind))

    def health_problem(self, answers: tuple[float, ...]) -> str | None:
        """Why `answers` to the health-check row are not healthy, or None when they are."""
        low, high = self.answer.healthy_range()
        if len(answers) != 1:
            return f"it answered {len(answers)} numbers for one row"
        if not low <= answers[0] <= high:
            return f"it answered {answers[0]:g}, outside the healthy range [{low:g}, {high:g}] (model.contract.answer)"
        return None

    def gateway_environment(self) -> dict[str, str]:
        """What the gateway needs of the contract (serving/gateway/settings.py reads these)."""
        environment = {
            "FEATURE_COUNT": str(self.feature_count),
            "MODEL_CONTENT_TYPE": self.content_type,
            "ANSWER_KIND": self.answer.kind,
        }
        if self.answer.kind == PROBABILITY:
            environment["SCORE_THRESHOLD"] = repr(self.answer.label_threshold)
        else:
            environment["ANSWER_TOLERANCE"] = repr(self.answer.tolerance)
        return environment

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json", exclude_none=True), sort_keys=True)

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
