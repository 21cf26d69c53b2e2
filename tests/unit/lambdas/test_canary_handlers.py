"""The canary-analysis and traffic-shifter handlers as EventBridge invokes them, on moto."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

import lambdas.canary_analysis.handler as canary_analysis
import lambdas.traffic_shifter.handler as traffic_shifter
from safedeploy.lambda_actions.aws_clients import AwsClients
from testbed.blue_green import Deployment
from testbed.deploy_world import ENDPOINT, ENV, PROJECT
from testbed.lambda_fakes import LambdaContext
from tests.support.clock import SetClock
from tests.unit.canary.conftest import HEALTHY


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


def test_the_clock_not_the_events_time_is_the_minute_judged(
    blue_green: Callable[..., Deployment],
    clients: AwsClients,
    clock: SetClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Anyone with lambda:InvokeFunction chooses the event's `time`: two hours ahead (what CloudWatch still accepts)
    it used to write a genuine decision record dated in the future, which then stayed the newest of its deployment."""
    monkeypatch.setattr(canary_analysis, "clients", clients)
    deployment = blue_green()
    for _ in range(3):
        deployment.serve_minute(1000, HEALTHY, HEALTHY)
    start = deployment.started_at.replace(second=0, microsecond=0)
    ahead = scheduled_event((start + timedelta(hours=2)).isoformat())
    clock.at = start + timedelta(seconds=5)
    summary = canary_analysis.handler(ahead, LambdaContext())
    assert (summary["decision"], summary["verdict_metric"]) == ("CONTINUE", 0)
    assert summary["detail"] == "deployment started less than a minute ago"

    clock.at = start + timedelta(minutes=3, seconds=5)
    summary = canary_analysis.handler(ahead, LambdaContext())
    assert summary["record_uri"].startswith("s3://") and summary["decision"] == "CONTINUE"
    assert f"/{clock.at.strftime('%Y%m%dT%H%M%SZ')}-CONTINUE.json" in summary["record_uri"]
    (logged,) = [record for record in caplog.records if record.getMessage() == "canary decision"]
    assert logged.decision_record["window"]["minutes"] == 3
    assert logged.decision_record["at"] == clock.at.isoformat()


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
    outcome = traffic_shifter.handler(event, LambdaContext())
    assert outcome["action"] == "refused" and f"this function serves '{ENDPOINT}'" in outcome["detail"]
    (logged,) = [record for record in caplog.records if record.levelname == "WARNING"]
    assert logged.getMessage() == outcome["detail"]
    event["detail"]["endpoint_name"] = ENDPOINT
    event["detail"]["kind"] = "blue_green"
    assert traffic_shifter.handler(event, LambdaContext())["action"] == "none"
