"""The canary-analysis and traffic-shifter handlers as EventBridge invokes them, on moto."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

import lambdas.canary_analysis.handler as canary_analysis
import lambdas.traffic_shifter.handler as traffic_shifter
from safedeploy.lambda_actions.aws_clients import AwsClients
from tests.support.deploy_world import ENDPOINT, ENV, PROJECT
from tests.support.lambda_fakes import LambdaContextStub
from tests.unit.canary.conftest import HEALTHY, Deployment


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFEDEPLOY_PROJECT", PROJECT)
    monkeypatch.setenv("SAFEDEPLOY_ENV", ENV)


def scheduled_event(time: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": time,
        "region": "ap-northeast-2",
        "resources": ["arn:aws:events:ap-northeast-2:123456789012:rule/demo-dev-every-minute"],
        "detail": {},
    }


def test_the_scheduled_time_is_the_minute_judged(
    blue_green: Callable[..., Deployment],
    clients: AwsClients,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(canary_analysis, "clients", clients)
    deployment = blue_green()
    for _ in range(3):
        deployment.serve_minute(1000, HEALTHY, HEALTHY)
    now = deployment.started_at.replace(second=0, microsecond=0).isoformat().replace("+00:00", "Z")
    late = scheduled_event(now.replace(":00Z", ":05Z"))
    summary = canary_analysis.handler(late, LambdaContextStub())
    assert (summary["decision"], summary["verdict_metric"]) == ("CONTINUE", 0)
    assert summary["detail"] == "deployment started less than a minute ago"

    at_three = deployment.started_at.replace(second=5, microsecond=0) + timedelta(minutes=3)
    summary = canary_analysis.handler(scheduled_event(at_three.isoformat()), LambdaContextStub())
    assert summary["record_uri"].startswith("s3://") and summary["decision"] == "CONTINUE"
    (logged,) = [record for record in caplog.records if record.getMessage() == "canary decision"]
    assert logged.decision_record["window"]["minutes"] == 3


def test_an_event_without_a_time_is_refused(clients: AwsClients, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(canary_analysis, "clients", clients)
    with pytest.raises(ValueError, match="not an ISO 8601 time"):
        canary_analysis.handler(scheduled_event("yesterday"), LambdaContextStub())


def test_the_traffic_shifter_refuses_another_environments_endpoint(
    clients: AwsClients,
    blue_green: Callable[..., Deployment],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(traffic_shifter, "clients", clients)
    blue_green()
    event = scheduled_event("2026-11-24T12:00:00Z") | {
        "source": "safedeploy.canary",
        "detail-type": "Canary Verdict",
        "detail": {"endpoint_name": "prod-endpoint", "kind": "ab", "decision": "ROLLBACK"},
    }
    outcome = traffic_shifter.handler(event, LambdaContextStub())
    assert outcome["action"] == "refused" and f"this function serves '{ENDPOINT}'" in outcome["detail"]
    (logged,) = [record for record in caplog.records if record.levelname == "WARNING"]
    assert logged.getMessage() == outcome["detail"]
    event["detail"]["endpoint_name"] = ENDPOINT
    event["detail"]["kind"] = "blue_green"
    assert traffic_shifter.handler(event, LambdaContextStub())["action"] == "none"
