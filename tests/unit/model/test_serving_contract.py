"""The model's serving contract: one line for every mistake, and the health-check row as the endpoint reads it."""

from __future__ import annotations

import pytest

from safedeploy.errors import ConfigError
from safedeploy.serving_contract import ServingContract

CONTRACT = {"features": ["tenure", "plan", "spend"], "health_check": [12, 1, 42.5]}


def test_a_contract_gives_the_width_and_the_row_as_csv() -> None:
    contract = ServingContract.from_mapping(CONTRACT)
    assert (contract.content_type, contract.feature_count, contract.health_check_body()) == ("text/csv", 3, "12,1,42.5")
    assert ServingContract.from_json(contract.to_json()) == contract  # as published to SSM and read back


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (None, "model.contract: missing; declare the model's request: content_type, features and a health_check row"),
        (
            {**CONTRACT, "health_check": [1, 2]},
            "model.contract.health_check: [1, 2] must be one row of 3 finite numbers",
        ),
        ({**CONTRACT, "health_check": [1, 2, float("nan")]}, "must be one row of 3 finite numbers"),
        ({**CONTRACT, "health_check": [1, True, 3]}, "must be one row of 3 finite numbers"),
        ({**CONTRACT, "features": ["a", "a", "b"]}, "must be 1 to 10000 distinct column names"),
        ({**CONTRACT, "features": ["a", "b c", "d"]}, "; 'b c' is not one"),
        ({**CONTRACT, "features": []}, "must be 1 to 10000 distinct column names"),
        ({**CONTRACT, "content_type": "application/json"}, "model.contract.content_type: 'application/json'"),
        ({**CONTRACT, "columns": 3}, "model.contract.columns: unknown key"),
        (
            {"features": [f"column_{index:04d}_of_the_request" for index in range(200)], "health_check": [0] * 200},
            "a standard SSM parameter holds at most 4096: use shorter column names",
        ),
    ],
)
def test_every_mistake_is_one_line_naming_the_key(raw: object, message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        ServingContract.from_mapping(raw)
    assert message in str(refused.value) and "\n" not in str(refused.value)


def test_a_published_contract_that_is_not_json_is_one_line() -> None:
    with pytest.raises(ConfigError, match=r"^serving-contract: not valid JSON \(Expecting value at character 0\)$"):
        ServingContract.from_json("")
