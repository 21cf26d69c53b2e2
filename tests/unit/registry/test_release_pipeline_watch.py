"""Waiting for a SageMaker Pipeline execution: progress lines, the registered package, failures with reasons."""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from safedeploy.build_steps.model_plugin import PipelineSpec
from safedeploy.build_steps.sm_pipeline import EvaluationOutput, PipelineWatch
from safedeploy.errors import InputError

EXECUTION = "arn:aws:sagemaker:ap-northeast-2:123456789012:pipeline/demo-dev-train/execution/abc"


class FakeSageMaker:
    """Answers DescribePipelineExecution and ListPipelineExecutionSteps from a script of polls."""

    def __init__(self, polls: list[tuple[dict[str, Any], list[dict[str, Any]]]]) -> None:
        self.polls = deque(polls)
        self.current: tuple[dict[str, Any], list[dict[str, Any]]] | None = None
        self.stopped: list[str] = []

    def describe_pipeline_execution(self, PipelineExecutionArn: str) -> dict[str, Any]:
        assert PipelineExecutionArn == EXECUTION
        self.current = self.polls.popleft() if self.polls else self.current
        assert self.current is not None
        return self.current[0]

    def stop_pipeline_execution(self, PipelineExecutionArn: str) -> None:
        self.stopped.append(PipelineExecutionArn)

    def get_paginator(self, name: str) -> Any:
        assert name == "list_pipeline_execution_steps"
        steps = self.current[1] if self.current else []
        return type("Paginator", (), {"paginate": lambda _self, **_: [{"PipelineExecutionSteps": steps}]})()


def step(name: str, status: str, **extra: Any) -> dict[str, Any]:
    return {"StepName": name, "StepStatus": status, **extra}


def watch(sm: FakeSageMaker, lines: list[str], timeout: float = 600) -> PipelineWatch:
    return PipelineWatch(sm, EXECUTION, lines.append, poll_seconds=30, timeout_seconds=timeout, sleep=lambda _: None)


def test_a_successful_execution_reports_each_change_once_and_returns_its_steps() -> None:
    checked = step("CheckQuality", "Succeeded", Metadata={"Condition": {"Outcome": "true"}})
    sm = FakeSageMaker(
        [
            ({"PipelineExecutionStatus": "Executing"}, [step("Train", "Executing")]),
            ({"PipelineExecutionStatus": "Executing"}, [step("Train", "Executing")]),
            ({"PipelineExecutionStatus": "Executing"}, [step("Train", "Succeeded"), step("Evaluate", "Executing")]),
            (
                {"PipelineExecutionStatus": "Succeeded"},
                [step("Train", "Succeeded"), step("Evaluate", "Succeeded"), checked],
            ),
        ]
    )
    lines: list[str] = []

    steps = watch(sm, lines).wait()

    assert steps[-1] == checked
    assert lines == [
        "[    0 s] execution: Executing",
        "[    0 s] Train: Executing",
        "[   60 s] Train: Succeeded",
        "[   60 s] Evaluate: Executing",
        "[   90 s] execution: Succeeded",
        "[   90 s] Evaluate: Succeeded",
        "[   90 s] CheckQuality: Succeeded",
    ]


def test_a_failed_execution_is_an_error_with_every_reason() -> None:
    sm = FakeSageMaker(
        [
            (
                {"PipelineExecutionStatus": "Failed", "FailureReason": "Step failure: One or multiple steps failed."},
                [step("BelowQualityBar", "Failed", FailureReason='a metric is below its minimum {"auc": 0.75}')],
            )
        ]
    )

    with pytest.raises(InputError, match=r"Failed: Step failure.*BelowQualityBar: a metric is below its minimum"):
        watch(sm, []).wait()


def test_an_execution_that_runs_too_long_is_stopped() -> None:
    sm = FakeSageMaker([({"PipelineExecutionStatus": "Executing"}, [])])

    with pytest.raises(InputError, match="still running after 90 s: stopped"):
        watch(sm, [], timeout=90).wait()
    assert sm.stopped == [EXECUTION]


def test_the_evaluation_is_found_by_execution_id_and_must_have_finished() -> None:
    spec = PipelineSpec(
        name="demo-dev-train",
        region="ap-northeast-2",
        role_arn="arn:aws:iam::123456789012:role/demo-dev-sagemaker",
        artifacts_bucket="demo-dev-artifacts",
        work_prefix="pipelines",
        evaluation_uri="s3://demo-dev-artifacts/pipelines/evaluation",
        kms_key_arn="arn:aws:kms:ap-northeast-2:123456789012:key/example",
        code_dir=Path("unused"),
        minimums={"auc": 0.75},
    )
    ended = datetime(2026, 12, 7, 22, 0, tzinfo=UTC)

    found = EvaluationOutput.of(spec, EXECUTION, [step("Evaluate", "Succeeded", EndTime=ended)])

    assert found == EvaluationOutput("s3://demo-dev-artifacts/pipelines/evaluation/abc", ended)
    for steps in ([step("Train", "Succeeded", EndTime=ended)], [step("Evaluate", "Executing")]):
        with pytest.raises(InputError, match="without a finished step named 'Evaluate'"):
            EvaluationOutput.of(spec, EXECUTION, steps)
