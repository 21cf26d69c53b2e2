from __future__ import annotations

import pytest

from safedeploy.lambda_actions.pipeline_job import (
    MESSAGE_LIMIT,
    ActionFailed,
    complete_job,
    job_parameters,
    open_job,
    required_text,
)
from testbed.lambda_fakes import JOB_ID, expect_failure, expect_success, job_event, stubbed


@pytest.mark.parametrize("event", [{}, {"CodePipeline.job": {}}, {"CodePipeline.job": {"id": ""}}, [], None])
def test_an_event_without_a_job_id_is_refused_by_name(event: object) -> None:
    with pytest.raises(ValueError, match=r"not a CodePipeline job event: 'CodePipeline.job.id' is missing"):
        open_job(event)


def test_user_parameters_are_decoded_as_a_json_object() -> None:
    job = open_job(job_event({"model_package_arn": "arn:x"}))

    assert job.get_id == JOB_ID
    assert job_parameters(job) == {"model_package_arn": "arn:x"}


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (job_event(None), "UserParameters is empty"),
        (job_event("{not json"), "UserParameters is not valid JSON: Expecting property name"),
        (job_event("[1, 2]"), "UserParameters must be a JSON object, got list"),
        ({"CodePipeline.job": {"id": JOB_ID}}, "job event has no data.actionConfiguration.configuration"),
    ],
)
def test_malformed_user_parameters_are_named(event: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        job_parameters(open_job(event))


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({}, "UserParameters.model_package_arn is missing or empty"),
        ({"model_package_arn": "  "}, "UserParameters.model_package_arn is missing or empty"),
        ({"model_package_arn": 7}, "UserParameters.model_package_arn is missing or empty"),
        (
            {"model_package_arn": "#{Train.MODEL_PACKAGE_ARN}"},
            r"UserParameters.model_package_arn is the unresolved variable '#\{Train.MODEL_PACKAGE_ARN\}'",
        ),
    ],
)
def test_required_text_names_the_parameter(parameters: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        required_text(parameters, "model_package_arn")


def test_a_successful_action_reports_its_summary() -> None:
    codepipeline = stubbed("codepipeline")
    expect_success(codepipeline)
    with codepipeline.stubber:
        outcome = complete_job(codepipeline.client, JOB_ID, lambda: "all good")

    codepipeline.stubber.assert_no_pending_responses()
    assert outcome.succeeded
    assert codepipeline.reported_message() == "all good"


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (ActionFailed("2 violations"), "2 violations"),
        (ValueError("UserParameters.x is missing or empty"), "UserParameters.x is missing or empty"),
        (KeyError("boom"), "unexpected KeyError: 'boom'"),
    ],
)
def test_every_exception_is_reported_as_a_failure_and_not_raised(error: Exception, message: str) -> None:
    def action() -> str:
        raise error

    codepipeline = stubbed("codepipeline")
    expect_failure(codepipeline)
    with codepipeline.stubber:
        outcome = complete_job(codepipeline.client, JOB_ID, action)

    codepipeline.stubber.assert_no_pending_responses()
    assert not outcome.succeeded
    assert codepipeline.reported_message() == message


def test_a_long_failure_message_is_clipped_to_the_api_limit() -> None:
    def action() -> str:
        raise ActionFailed("x" * (MESSAGE_LIMIT + 100))

    codepipeline = stubbed("codepipeline")
    expect_failure(codepipeline)
    with codepipeline.stubber:
        complete_job(codepipeline.client, JOB_ID, action)

    reported = codepipeline.reported_message()
    assert len(reported) == MESSAGE_LIMIT
    assert reported.endswith("…")
