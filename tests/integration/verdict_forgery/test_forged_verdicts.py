"""Forged, mismatched, planted and replayed canary verdicts move no traffic; a genuine verdict moves it once.

On moto, as in the account: the attacker holds `events:PutEvents` (the forged event travels the default bus and its
rule, here delivering to a queue instead of the Lambda) or `lambda:InvokeFunction` (the handler gets any event).
The attacker's calls are `iam_enforcement.ATTACKER`'s, the decision records are written as the canary analysis's role
and the verdicts acted on as the traffic shifter's, each decided against the synthesized IAM; the experiment's
set-up (the deploy's work, decided as the Deploy build's role in tests/integration/deploy) and planting records
(whose writers the bucket policy's tests settle) are the test's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

import lambdas.traffic_shifter.handler as traffic_shifter
from rehearsal.attacks.forged_verdict import forged_verdict_detail, play_forged_verdict
from safedeploy.canary.outputs import VERDICT_DETAIL_TYPE, VERDICT_EVENT_SOURCE
from safedeploy.canary.traffic import ShiftOutcome, shift_traffic
from safedeploy.guardrails.endpoint_status import describe_endpoint
from safedeploy.lambda_actions.aws_clients import AwsClients
from testbed import iam_enforcement, iam_world
from testbed.blue_green import BUCKET
from testbed.deploy_world import ENDPOINT, ENV, PROJECT
from testbed.iam_eval import PolicyWorld
from testbed.lambda_fakes import LambdaContext
from tests.support.clock import SetClock
from tests.unit.canary import test_ab_and_traffic
from tests.unit.canary.test_ab_and_traffic import start_ab_test, weights

AB = {"strategy": "ab", "ab_weights": [10, 50, 100], "wait_interval_seconds": 600}
SHIFTER = f"{PROJECT}-{ENV}-traffic-shifter"


@contextmanager
def as_shifter() -> Iterator[None]:
    with iam_enforcement.as_lambda_function(SHIFTER):
        yield


def shift(clients: AwsClients, detail: dict[str, Any]) -> ShiftOutcome:
    """A verdict event's detail handed to the shifter, as its function's role."""
    with as_shifter():
        return shift_traffic(clients, PROJECT, ENV, VERDICT_DETAIL_TYPE, detail)


def recorded_verdict(clients: AwsClients, decision: str, at: datetime | None = None) -> dict[str, Any]:
    """A decision record written as the canary analysis's role writes it; its event detail."""
    with iam_enforcement.as_lambda_function(f"{PROJECT}-{ENV}-canary-analysis"):
        return test_ab_and_traffic.recorded_verdict(clients, decision, at)


@pytest.fixture
def experiment(clients: AwsClients, monkeypatch: pytest.MonkeyPatch) -> dict[str, float]:
    """An A/B test at 10 % for the candidate; the shifter's handler uses these clients."""
    start_ab_test(clients, AB)
    monkeypatch.setenv("SAFEDEPLOY_PROJECT", PROJECT)
    monkeypatch.setenv("SAFEDEPLOY_ENV", ENV)
    monkeypatch.setattr(traffic_shifter, "clients", clients)
    return weights(clients("sagemaker"))


def delivered_through_the_bus(clients: AwsClients, detail: dict[str, Any]) -> dict[str, Any]:
    """PutEvents on the default bus; the event as the stack's rule (same pattern) hands it to its target."""
    sqs, events = clients("sqs"), clients("events")
    queue_url = sqs.create_queue(QueueName="verdict-target")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {
        "source": [VERDICT_EVENT_SOURCE],
        "detail-type": [VERDICT_DETAIL_TYPE],
        "detail": {"endpoint_name": [ENDPOINT]},
    }
    events.put_rule(Name="on-verdict", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="on-verdict", Targets=[{"Id": "shifter", "Arn": queue_arn}])
    entry = {"Source": VERDICT_EVENT_SOURCE, "DetailType": VERDICT_DETAIL_TYPE, "Detail": json.dumps(detail)}
    with iam_enforcement.acting_as(iam_enforcement.ATTACKER):
        assert events.put_events(Entries=[entry])["FailedEntryCount"] == 0, "anyone with PutEvents can send this"
    (message,) = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1)["Messages"]
    return json.loads(message["Body"])


def test_a_forged_promote_on_the_bus_is_refused_and_logged(
    clients: AwsClients,
    experiment: dict[str, float],
    caplog: pytest.LogCaptureFixture,
) -> None:
    event = delivered_through_the_bus(clients, forged_verdict_detail(ENDPOINT, BUCKET))
    assert (event["source"], event["detail-type"]) == (VERDICT_EVENT_SOURCE, VERDICT_DETAIL_TYPE)
    with as_shifter():
        outcome = traffic_shifter.handler(event, LambdaContext())
    assert outcome["action"] == "refused"
    assert outcome["detail"].startswith("refused 'Canary Verdict' event: no decision record at s3://")
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [outcome["detail"]]
    assert weights(clients("sagemaker")) == experiment


@pytest.mark.parametrize("decision", ["PROMOTE", "ROLLBACK"])
def test_a_directly_invoked_forged_verdict_moves_nothing(
    clients: AwsClients,
    experiment: dict[str, float],
    decision: str,
) -> None:
    line = play_forged_verdict(clients, PROJECT, ENV, decision)
    assert line.startswith("refused 'Canary Verdict' event: no decision record at")
    assert weights(clients("sagemaker")) == experiment


def test_an_event_that_contradicts_its_record_is_refused(clients: AwsClients, experiment: dict[str, float]) -> None:
    genuine = recorded_verdict(clients, "CONTINUE")
    outcome = shift(clients, {**genuine, "decision": "PROMOTE"})
    assert outcome.action == "refused"
    assert "does not match its decision record" in outcome.detail and "(record: 'CONTINUE')" in outcome.detail
    assert weights(clients("sagemaker")) == experiment


@pytest.mark.parametrize(
    "planted",
    [
        "s3://attacker-bucket/decisions/{endpoint}/{deployment}/20260301T120000Z-PROMOTE.json",
        "s3://{bucket}/pipelines/{endpoint}/{deployment}/20260301T120000Z-PROMOTE.json",
        "s3://{bucket}/decisions/{endpoint}/other-deployment/20260301T120000Z-PROMOTE.json",
    ],
)
def test_a_record_planted_outside_the_analysis_prefix_is_refused(
    clients: AwsClients,
    experiment: dict[str, float],
    planted: str,
) -> None:
    """Buckets or prefixes an attacker might write to are not where the analysis's records live."""
    genuine = recorded_verdict(clients, "CONTINUE")
    uri = planted.format(endpoint=ENDPOINT, deployment=genuine["deployment_id"], bucket=BUCKET)
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if bucket == BUCKET:
        record = {**genuine, "decision": "PROMOTE"}
        clients("s3").put_object(Bucket=bucket, Key=key, Body=json.dumps(record).encode())
    outcome = shift(clients, {**genuine, "decision": "PROMOTE", "record_uri": uri})
    assert outcome.action == "refused" and "is not a decision record of" in outcome.detail
    assert weights(clients("sagemaker")) == experiment


def test_an_older_verdict_is_refused_once_a_newer_one_exists(clients: AwsClients, experiment: dict[str, float]) -> None:
    at = datetime.now(UTC)
    older = recorded_verdict(clients, "PROMOTE", at=at)
    newer = recorded_verdict(clients, "CONTINUE", at=at + timedelta(seconds=1))
    outcome = shift(clients, older)
    assert (
        outcome.action == "refused"
        and f"is not the newest decision of its deployment ({newer['record_uri']})" in outcome.detail
    )
    assert weights(clients("sagemaker")) == experiment


def test_a_genuine_verdict_moves_traffic_once_and_its_replay_is_refused(
    clients: AwsClients,
    experiment: dict[str, float],
    clock: SetClock,
) -> None:
    genuine = recorded_verdict(clients, "PROMOTE")
    clock.at = held_until(clients)
    first = shift(clients, genuine)
    assert first.action == "weights" and "10% -> 50%" in first.detail
    stepped = weights(clients("sagemaker"))
    replay = shift(clients, genuine)
    assert replay.action == "refused" and "was acted on already" in replay.detail
    assert weights(clients("sagemaker")) == stepped


def held_until(clients: AwsClients) -> datetime:
    """When the current weight has served the test's wait_interval_seconds."""
    since = describe_endpoint(clients("sagemaker"), ENDPOINT).last_modified_at
    assert since is not None
    return since + timedelta(seconds=AB["wait_interval_seconds"])


def test_a_verdict_dated_ahead_does_not_refuse_the_honest_ones_after_it(
    clients: AwsClients, experiment: dict[str, float]
) -> None:
    """A record dated a day ahead (the analysis once took its time from the invoker) used to stay the newest of its
    deployment: every honest verdict after it was refused and a bad candidate kept its weight."""
    now = datetime.now(UTC)
    ahead = recorded_verdict(clients, "CONTINUE", at=now + timedelta(days=1))
    honest = recorded_verdict(clients, "ROLLBACK", at=now)
    outcome = shift(clients, honest)
    assert (outcome.action, weights(clients("sagemaker"))["v2"]) == ("weights", 0.0), outcome.detail
    refused = shift(clients, ahead)
    assert refused.action == "refused"
    dated = (now + timedelta(days=1)).replace(microsecond=0).isoformat()  # the key's time, to the second
    assert f"record {ahead['record_uri']} is not believed: it is dated {dated}, after the clock's" in refused.detail


def test_a_promote_dated_ahead_does_not_cut_the_hold_short(
    clients: AwsClients, experiment: dict[str, float], clock: SetClock
) -> None:
    """The hold is measured by the clock: a PROMOTE dated past the hold moved 10 % to 50 % at minute 10 of 30."""
    since = describe_endpoint(clients("sagemaker"), ENDPOINT).last_modified_at
    assert since is not None
    clock.at = since + timedelta(seconds=30)
    ahead = recorded_verdict(clients, "PROMOTE", at=held_until(clients))
    outcome = shift(clients, ahead)
    assert outcome.action == "refused" and "after the clock's" in outcome.detail
    honest = recorded_verdict(clients, "PROMOTE", at=clock.at)
    held = shift(clients, honest)
    assert held.action == "unchanged" and "v2 holds 10% until" in held.detail
    assert weights(clients("sagemaker")) == experiment


def test_a_verdict_older_than_its_deployment_is_refused(clients: AwsClients, experiment: dict[str, float]) -> None:
    old = recorded_verdict(clients, "PROMOTE", at=datetime.now(UTC) - timedelta(days=1))
    outcome = shift(clients, old)
    assert outcome.action == "refused" and "before its deployment began at" in outcome.detail
    assert weights(clients("sagemaker")) == experiment


def test_the_shifter_is_held_to_its_role_a_forgotten_grant_is_denied(
    clients: AwsClients, experiment: dict[str, float], clock: SetClock, in_force: PolicyWorld, tmp_path: Path
) -> None:
    """The evaluation bites here: without its UpdateEndpointWeightsAndCapacities grant, the genuine verdict that
    moves traffic above is refused where the shifter makes the call."""
    genuine = recorded_verdict(clients, "PROMOTE")
    clock.at = held_until(clients)
    role = in_force.role(function_name=SHIFTER).arn
    forgotten = iam_world.without_action(in_force, role, "sagemaker:UpdateEndpointWeightsAndCapacities")
    with (
        iam_enforcement.policies_in_force([forgotten], tmp_path),
        iam_enforcement.expected_denials() as denials,
        pytest.raises(ClientError, match="AccessDenied"),
    ):
        shift(clients, genuine)
    assert [(denial.operation, role in denial.reason) for denial in denials] == [
        ("UpdateEndpointWeightsAndCapacities", True)
    ]
    assert weights(clients("sagemaker")) == experiment
