"""The model's serving contract: one line for every mistake, the health-check row as the endpoint reads it, and what
a healthy answer is."""

from __future__ import annotations

import pytest

from safedeploy.errors import ConfigError
from safedeploy.serving_contract import ServingContract

CONTRACT = {"features": ["tenure", "plan", "spend"], "health_check": [12, 1, 42.5]}


def test_a_contract_gives_the_width_and_the_row_as_csv() -> None:
    contract = ServingContract.from_mapping(CONTRACT)
    assert (contract.content_type, contract.feature_count, contract.health_check_body()) == (
        "text/csv",
        3,
        "12.0,1.0,42.5\n",
    )
    assert ServingContract.from_json(contract.to_json()) == contract  # as published to SSM and read back
    assert contract.gateway_environment() == {
        "FEATURE_COUNT": "3",
        "MODEL_CONTENT_TYPE": "text/csv",
        "ANSWER_KIND": "probability",
        "SCORE_THRESHOLD": "0.5",
    }


REGRESSOR = {
    "content_type": "application/json",
    "features": ["rooms", "area"],
    "health_check": [3, 82.5],
    "answer": {"kind": "value", "tolerance": 25, "healthy": [10, 900]},
}


def test_a_json_value_contract_gives_its_row_as_json_and_judges_its_answer() -> None:
    contract = ServingContract.from_mapping(REGRESSOR)
    assert contract.health_check_body() == '{"instances":[[3.0,82.5]]}'
    assert ServingContract.from_json(contract.to_json()) == contract
    assert contract.gateway_environment() == {
        "FEATURE_COUNT": "2",
        "MODEL_CONTENT_TYPE": "application/json",
        "ANSWER_KIND": "value",
        "ANSWER_TOLERANCE": "25.0",
    }
    assert contract.read_answers(b'{"predictions": [412.5]}') == (412.5,)
    assert contract.health_problem((412.5,)) is None
    assert contract.health_problem((4.0,)) == (
        "it answered 4, outside the healthy range [10, 900] (model.contract.answer)"
    )


def test_a_probability_is_healthy_in_0_to_1_and_its_threshold_is_the_gateways() -> None:
    contract = ServingContract.from_mapping({**CONTRACT, "answer": {"threshold": 0.8}})
    assert contract.gateway_environment()["SCORE_THRESHOLD"] == "0.8"
    assert contract.health_problem((0.0,)) is None and contract.health_problem((1.0,)) is None
    assert contract.health_problem((0.2, 0.3)) == "it answered 2 numbers for one row"


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
        (
            {**CONTRACT, "content_type": "text/plain"},
            "model.contract.content_type: 'text/plain': Input should be 'text/csv' or 'application/json'",
        ),
        ({**CONTRACT, "answer": {"kind": "value"}}, "model.contract.answer: a value answer needs tolerance"),
        ({**CONTRACT, "answer": {"tolerance": 1}}, "model.contract.answer: tolerance is for a value answer"),
        (
            {**CONTRACT, "answer": {"kind": "value", "tolerance": 1, "threshold": 0.5}},
            "model.contract.answer: threshold is for a probability answer",
        ),
        ({**CONTRACT, "answer": {"threshold": 1.5}}, "model.contract.answer.threshold: 1.5 is out of range (0 to 1)"),
        (
            {**CONTRACT, "answer": {"kind": "value", "tolerance": 1, "healthy": [5, 1]}},
            "model.contract.answer.healthy: [5, 1] must be [low, high]: two finite numbers, low <= high",
        ),
        ({**CONTRACT, "answer": {"kind": "label"}}, "model.contract.answer.kind: 'label': Input should be"),
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
