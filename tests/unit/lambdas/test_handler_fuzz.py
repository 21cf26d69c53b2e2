"""Every Lambda handler against malformed variants of the events it really receives (property-based, bounded).

Anyone with `lambda:InvokeFunction` chooses the whole event. Whatever arrives, a handler answers with one line: a
job failure that says what was wrong (never "unexpected …"), a refusal it returns and logs, or, for the scheduled
handlers that read nothing from their event, the same run as any schedule tick. Each property draws its events from
the real shapes (CodePipeline job events, EventBridge scheduled events, the verdict events, action state changes)
with keys deleted or replaced by wrong types, huge strings and deep nesting; AWS requests the handlers make are held
to the service models by the suite's contract checks, so an unchecked identifier reaching AWS fails too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lambdas.approval_sync.handler as approval_sync
import lambdas.canary_analysis.handler as canary_analysis
import lambdas.drift_check.handler as drift_check
import lambdas.promote.handler as promote
import lambdas.quality_gate.handler as quality_gate
import lambdas.traffic_shifter.handler as traffic_shifter
from safedeploy.canary.analysis import AnalysisOutcome
from safedeploy.drift.job import DriftOutcome
from safedeploy.lambda_actions.aws_clients import AwsClients
from safedeploy.lambda_actions.registry_api import default_registry
from testbed.deploy_world import (
    ARTIFACTS_BUCKET,
    DRIFT_BUCKET,
    ENDPOINT,
    ENV,
    GROUP,
    PROJECT,
    provision_parameters,
)
from testbed.lambda_fakes import (
    EXECUTION_ID,
    JOB_ID,
    PIPELINE,
    SESSION,
    LambdaContext,
    job_event,
    moto_sagemaker,
)

# The examples come from the suite's hypothesis profile (tests/conftest.py: few, the same every run). Hypothesis's
# function-scoped-fixture check is for fixtures that examples would need fresh: here they share the module's moto
# world, which no example changes (every event is refused), and `monkeypatch`/`clock` set what each example sets again.
FUZZ = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
PACKAGE = "arn:aws:sagemaker:ap-northeast-2:123456789012:model-package/demo-dev-models/1"
HUGE = "x" * 300_000
DEEP = "[" * 5_000 + "]" * 5_000

leaves = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
json_values = st.recursive(
    leaves,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
hostile = json_values | st.sampled_from([HUGE, DEEP, "#{Train.MODEL_PACKAGE_ARN}", "", " ", "\n", -1, 10**30])


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*prefix, index))


def _replace(value: Any, path: tuple[Any, ...], new: Any, delete: bool) -> Any:
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    head, rest = path[0], path[1:]
    if delete and not rest:
        del copy[head]
    else:
        copy[head] = _replace(copy[head], rest, new, delete)
    return copy


@st.composite
def mutated(draw: st.DrawFn, base: Any) -> Any:
    """`base` with one place (the whole event included) deleted or replaced by a hostile value."""
    path = draw(st.sampled_from(list(_paths(base))))
    delete = bool(path) and draw(st.booleans())
    return _replace(base, path, None if delete else draw(hostile), delete)


@st.composite
def job_events(draw: st.DrawFn, parameters: dict[str, Any]) -> Any:
    """A CodePipeline job event whose UserParameters, or whose envelope, is malformed."""
    where = draw(st.sampled_from(["parameters", "user-parameters-text", "envelope"]))
    if where == "parameters":
        return job_event(json.dumps(draw(mutated(parameters))))
    if where == "user-parameters-text":
        return job_event(draw(st.text(max_size=40) | st.sampled_from([HUGE, DEEP, "null", "[]", "1e999"])))
    return draw(mutated(job_event(parameters)))


def answering_codepipeline() -> tuple[Any, list[tuple[str, dict[str, Any]]]]:
    """A real CodePipeline client (so the contract checks see its requests) answered without AWS: no approval has
    run in any execution; every call is recorded."""
    client = SESSION.client("codepipeline")
    calls: list[tuple[str, dict[str, Any]]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append((model.name, dict(params)))

    def answer(model: Any, **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        body = {"actionExecutionDetails": []} if model.name == "ListActionExecutions" else {}
        return AWSResponse("https://codepipeline", 200, {}, None), {"ResponseMetadata": {}, **body}

    client.meta.events.register("before-parameter-build.codepipeline.*", record)
    client.meta.events.register_first("before-call.codepipeline.*", answer)
    return client, calls


def refusing_codecommit() -> Any:
    """A real CodeCommit client (its requests are contract-checked) answered as AWS answers for a repository this
    account does not have (moto implements neither GetFile nor PutFile)."""
    client = SESSION.client("codecommit")

    def refuse(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        error = {"Code": "RepositoryDoesNotExistException", "Message": "the repository does not exist"}
        return AWSResponse("https://codecommit", 400, {}, None), {"Error": error, "ResponseMetadata": {}}

    client.meta.events.register_first("before-call.codecommit.*", refuse)
    return client


def one_line(text: Any) -> bool:
    return isinstance(text, str) and bool(text.strip()) and "\n" not in text and "Traceback" not in text


@dataclass(frozen=True)
class FuzzWorld:
    """The module's AWS: moto behind clients built once, and the CodePipeline requests of the current example."""

    clients: AwsClients
    codepipeline_calls: list[tuple[str, dict[str, Any]]]


HANDLERS = (quality_gate, approval_sync, promote, traffic_shifter, canary_analysis, drift_check)
ENVIRONMENT = {
    # the release functions, as the stacks configure them
    "RECORDS_BUCKET": ARTIFACTS_BUCKET,
    "RECORDS_KEY_ARN": "arn:aws:kms:ap-northeast-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "MODEL_PACKAGE_GROUP": GROUP,
    "RELEASE_REPOSITORY": "demo-prod",
    "RELEASE_BRANCH": "main",
    "QUALITY_GATE_THRESHOLDS": json.dumps({"min_auc": 0.7, "max_regression": 0.01}),
    # the traffic shifter and the scheduled functions
    "SAFEDEPLOY_PROJECT": PROJECT,
    "SAFEDEPLOY_ENV": ENV,
    "ARTIFACTS_BUCKET": ARTIFACTS_BUCKET,
    "DRIFT_BUCKET": DRIFT_BUCKET,
    "ENDPOINT_NAME": ENDPOINT,
    "DRIFT_ALPHA": "0.05",
    "DRIFT_PERIOD_LOOKS": "720",
    "DRIFT_SENSITIVITY": "0.1",
    "DRIFT_ACCURACY_MARGIN": "0.02",
}


@pytest.fixture(scope="module")
def world() -> Iterator[FuzzWorld]:
    """moto with the environment's parameters and artifacts bucket, once per module, and every handler given the same
    clients: a new boto3 client costs more than a refused event, and moto's SageMaker backend and the registry module
    start here rather than inside the first example."""
    with pytest.MonkeyPatch.context() as patch, moto_sagemaker(patch):
        for name, value in ENVIRONMENT.items():
            patch.setenv(name, value)
        codepipeline, calls = answering_codepipeline()
        aws = AwsClients({"codepipeline": codepipeline, "codecommit": refusing_codecommit()}, session=SESSION)
        provision_parameters(aws("ssm"))
        aws("sagemaker").list_model_packages()
        for service in ("s3", "cloudwatch", "events"):
            aws(service)
        default_registry()
        for module in HANDLERS:
            patch.setattr(module, "clients", aws)
        yield FuzzWorld(aws, calls)


def run_job_handler(world: FuzzWorld, module: ModuleType, event: Any) -> None:
    """The handler must answer `event` without raising; a job it can name gets exactly one result, a failure that
    says what was wrong in one line; an event with no job is refused in one line."""
    calls = world.codepipeline_calls
    calls.clear()
    outcome = module.handler(event, LambdaContext())
    results = [(name, params) for name, params in calls if name.startswith("PutJob")]
    job = event.get("CodePipeline.job") if isinstance(event, dict) else None
    if isinstance(job, dict) and isinstance(job.get("id"), str) and job["id"] == JOB_ID:
        assert len(results) == 1, calls
        name, params = results[0]
        if name == "PutJobFailureResult":
            message = params["failureDetails"]["message"]
            assert one_line(message) and not message.startswith("unexpected"), message
    else:
        assert results == [] and outcome["succeeded"] is False and one_line(outcome["message"]), outcome


QUALITY_GATE = {"model_package_arn": PACKAGE, "thresholds": {"min_auc": 0.7, "max_regression": 0.01}}
APPROVAL_SYNC = {"model_package_arn": PACKAGE, "pipeline_execution_id": EXECUTION_ID}
PROMOTE = {**APPROVAL_SYNC, "source_commit": "0123456789abcdef0123456789abcdef01234567"}
FORWARD = {
    "release_repository": "demo-staging",
    "release_commit": "feedface0123",
    "pipeline_execution_id": EXECUTION_ID,
}


@FUZZ
@given(event=job_events(QUALITY_GATE))
def test_the_quality_gate_answers_any_job_event_in_one_line(world: FuzzWorld, event: Any) -> None:
    run_job_handler(world, quality_gate, event)


@FUZZ
@given(event=job_events(APPROVAL_SYNC))
def test_approval_sync_answers_any_job_event_in_one_line(world: FuzzWorld, event: Any) -> None:
    run_job_handler(world, approval_sync, event)


@FUZZ
@given(event=job_events(PROMOTE) | job_events(FORWARD))
def test_promote_answers_any_job_event_in_one_line(world: FuzzWorld, event: Any) -> None:
    run_job_handler(world, promote, event)


STATE_CHANGE = {
    "version": "0",
    "detail-type": "CodePipeline Action Execution State Change",
    "source": "aws.codepipeline",
    "time": "2026-03-01T12:00:00Z",
    "detail": {
        "pipeline": PIPELINE,
        "execution-id": EXECUTION_ID,
        "stage": "Approval",
        "action": "Approval",
        "state": "FAILED",
        "type": {"owner": "AWS", "provider": "Manual", "category": "Approval", "version": "1"},
    },
}


@FUZZ
@given(event=mutated(STATE_CHANGE).filter(lambda event: isinstance(event, dict) and "detail-type" in event))
def test_approval_sync_answers_any_state_change_in_one_line(world: FuzzWorld, event: Any) -> None:
    outcome = approval_sync.handler(event, LambdaContext())
    assert outcome["synchronised"] is False and one_line(outcome["message"]), outcome


VERDICT = {
    "version": "0",
    "detail-type": "Canary Verdict",
    "source": "safedeploy.canary",
    "time": "2026-03-01T12:00:00Z",
    "detail": {
        "endpoint_name": "demo-dev-endpoint",
        "deployment_id": "demo-dev-endpoint-config-2@20260301T115000Z",
        "kind": "ab",
        "decision": "PROMOTE",
        "record_uri": "s3://demo-dev-artifacts/decisions/demo-dev-endpoint/x/20260301T120000Z-PROMOTE.json",
    },
}


@FUZZ
@given(event=mutated(VERDICT))
def test_the_traffic_shifter_refuses_any_malformed_verdict_in_one_line(world: FuzzWorld, event: Any) -> None:
    """No variant is backed by a decision record, so each is refused, in one line, and nothing moves."""
    outcome = traffic_shifter.handler(event, LambdaContext())
    assert outcome["action"] == "refused" and one_line(outcome["detail"]), outcome


SCHEDULED = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-03-01T12:00:00Z",
    "region": "ap-northeast-2",
    "resources": ["arn:aws:events:ap-northeast-2:123456789012:rule/demo-dev-every-minute"],
    "detail": {},
}


@pytest.mark.parametrize(
    ("module", "entry", "outcome"),
    [
        (canary_analysis, "analyze_endpoint", AnalysisOutcome("demo-dev-endpoint", "no deployment", verdict_metric=0)),
        (drift_check, "run_drift_job", DriftOutcome("no endpoint or baseline")),
    ],
)
@FUZZ
@given(event=mutated(SCHEDULED))
def test_the_scheduled_handlers_read_nothing_from_their_event(
    world: FuzzWorld, monkeypatch: pytest.MonkeyPatch, module: ModuleType, entry: str, outcome: Any, event: Any
) -> None:
    """Any event, however malformed or far in the future, runs the same check of the clock's minute."""
    calls: list[tuple[Any, ...]] = []
    record: Callable[..., Any] = lambda *args, **kwargs: calls.append((*args, *kwargs.values())) or outcome  # noqa: E731
    monkeypatch.setattr(module, entry, record)
    module.handler(event, LambdaContext())
    assert len(calls) == 1 and not any(part is event for part in calls[0])
