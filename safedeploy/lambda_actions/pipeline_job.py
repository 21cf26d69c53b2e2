"""One CodePipeline Lambda-invoke job: read its parameters, run the action, report exactly one result.

A Lambda invoke action that never calls PutJobSuccessResult or PutJobFailureResult leaves its pipeline waiting until
the action times out, so every outcome, including an unexpected exception, ends in a report with a readable message.
Exceptions are not re-raised after reporting: Lambda would retry the asynchronous invocation and report a second
time on a job that is already closed. Bad input is answered in one line: a job failure naming what was wrong (an
identifier that is not of its kind is refused before it reaches AWS, and an AWS refusal is "AWS error: …"), or, for
an event that names no job to fail, a refusal the handler returns and logs.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes import CodePipelineJobEvent
from botocore.exceptions import BotoCoreError, ClientError

from safedeploy.errors import ConfigError, InputError
from safedeploy.guardrails.model_package import PACKAGE_ARN_PATTERN

# Length limits of ExecutionDetails.summary and FailureDetails.message in the CodePipeline API.
SUMMARY_LIMIT = 2048
MESSAGE_LIMIT = 5000

_LOG = logging.getLogger(__name__)
# CodePipeline's job and pipeline execution ids (the API refuses anything else), and git commit ids.
UUID_PATTERN = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
COMMIT_PATTERN = r"[0-9a-f]{7,64}"


class ActionFailed(Exception):
    """The action ran and decided the release must stop; the message is what the pipeline shows."""


@dataclass(frozen=True)
class JobOutcome:
    job_id: str
    succeeded: bool
    message: str


def open_job(event: object) -> CodePipelineJobEvent:
    """The job, or a clear error: without a job id there is no job to report a failure to."""
    job = event.get("CodePipeline.job") if isinstance(event, dict) else None
    if not isinstance(job, dict) or not isinstance(job.get("id"), str) or not job["id"]:
        raise InputError("not a CodePipeline job event: 'CodePipeline.job.id' is missing")
    if not re.fullmatch(UUID_PATTERN, job["id"]):
        raise InputError("not a CodePipeline job event: 'CodePipeline.job.id' is not a job id")
    # Imported here: the Lambda layer has Powertools, the deploy builds' CLI (which reads the quality gate's section
    # through this package) does not install it.
    from aws_lambda_powertools.utilities.data_classes import CodePipelineJobEvent

    return CodePipelineJobEvent(event)


def job_parameters(job: CodePipelineJobEvent) -> dict[str, Any]:
    """The action's UserParameters as a JSON object."""
    try:
        raw = job.user_parameters
    except (KeyError, TypeError, AttributeError):
        raise InputError("job event has no data.actionConfiguration.configuration") from None
    if not raw:
        raise InputError("UserParameters is empty; the action must pass a JSON object")
    if not isinstance(raw, str):
        raise InputError(f"UserParameters must be JSON text, got {type(raw).__name__}")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as error:
        raise InputError(f"UserParameters is not valid JSON: {error.msg} at character {error.pos}") from None
    except RecursionError:
        raise InputError("UserParameters is nested too deeply to be the action's parameters") from None
    if not isinstance(value, dict):
        raise InputError(f"UserParameters must be a JSON object, got {type(value).__name__}")
    return value


def required_text(parameters: Mapping[str, Any], key: str) -> str:
    """A non-empty string parameter; an unresolved `#{...}` reference is named as such."""
    value = parameters.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"UserParameters.{key} is missing or empty")
    if value.startswith("#{"):
        raise InputError(f"UserParameters.{key} is the unresolved variable {value[:100]!r}")
    return value


def matching_text(parameters: Mapping[str, Any], key: str, pattern: str, kind: str) -> str:
    """A required parameter that must be an identifier of its kind, checked before any AWS call takes it."""
    value = required_text(parameters, key)
    if not re.fullmatch(pattern, value):
        shown = value if len(value) <= 100 else value[:100] + "…"
        raise InputError(f"UserParameters.{key} is not {kind}: {shown!r}")
    return value


def required_env(environ: Mapping[str, str], name: str) -> str:
    """A non-empty variable of the function's own configuration (set by the stack, not by whoever invokes it)."""
    value = environ.get(name, "").strip()
    if not value:
        raise ConfigError(f"environment variable {name} is not set")
    return value


def package_arn_parameter(parameters: Mapping[str, Any]) -> str:
    return matching_text(parameters, "model_package_arn", PACKAGE_ARN_PATTERN, "a versioned model package ARN")


@dataclass(frozen=True)
class JobSuccess:
    """A success summary with output variables, which later actions resolve as `#{<namespace>.<name>}`."""

    summary: str
    variables: Mapping[str, str]


def complete_job(codepipeline: Any, job_id: str, action: Callable[[], str | JobSuccess]) -> JobOutcome:
    """Run `action` (which returns the success summary) and report its outcome to CodePipeline."""
    try:
        result = action()
    except (ActionFailed, ValueError) as error:
        return _report_failure(codepipeline, job_id, str(error))
    except (ClientError, BotoCoreError) as error:
        return _report_failure(codepipeline, job_id, "AWS error: " + " ".join(str(error).split()))
    except Exception as error:
        _LOG.exception("job %s failed unexpectedly", job_id)
        return _report_failure(codepipeline, job_id, f"unexpected {type(error).__name__}: {error}")
    summary, variables = (result.summary, result.variables) if isinstance(result, JobSuccess) else (result, {})
    details = {"executionDetails": {"summary": _clip(summary, SUMMARY_LIMIT)}}
    if variables:
        details["outputVariables"] = dict(variables)
    codepipeline.put_job_success_result(jobId=job_id, **details)
    return JobOutcome(job_id=job_id, succeeded=True, message=summary)


def run_job(
    event: object, codepipeline: Callable[[], Any], action: Callable[[dict[str, Any]], str | JobSuccess]
) -> JobOutcome:
    """Open the job `event` names and run `action` on its UserParameters, reporting the outcome; an event that names
    no job is refused in one line (logged, returned, never raised: there is no job to fail and nothing to retry)."""
    try:
        job = open_job(event)
    except ValueError as refusal:
        _LOG.warning("%s", refusal)
        return JobOutcome(job_id="", succeeded=False, message=str(refusal))
    return complete_job(codepipeline(), job.get_id, lambda: action(job_parameters(job)))


def _report_failure(codepipeline: Any, job_id: str, message: str) -> JobOutcome:
    codepipeline.put_job_failure_result(
        jobId=job_id, failureDetails={"type": "JobFailed", "message": _clip(message, MESSAGE_LIMIT)}
    )
    return JobOutcome(job_id=job_id, succeeded=False, message=message)


def _clip(text: str, limit: int) -> str:
    text = text or "(no details)"
    return text if len(text) <= limit else text[: limit - 1] + "…"
