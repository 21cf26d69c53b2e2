"""`safedeploy plan --from-endpoint`: a week of the endpoint's CloudWatch becomes a bake, a canary size and a chart."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import safedeploy.cli.stats_commands as stats_commands
from safedeploy.canary.traffic_profile import summarise
from safedeploy.cli import main
from safedeploy.guardrails.release_names import PRODUCTION_VARIANT
from testbed.aws import SESSION, in_process_aws
from testbed.deploy_world import ENDPOINT, ENV, PROJECT, provision_parameters

QUIET, BUSY = 300, 1200  # requests per hour


@pytest.fixture
def week_of_traffic(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with in_process_aws(monkeypatch):
        provision_parameters(SESSION.client("ssm"), {"instance_count": 4, "canary": {"require_power": False}})
        cloudwatch = SESSION.client("cloudwatch")
        dimensions = [{"Name": "EndpointName", "Value": ENDPOINT}, {"Name": "VariantName", "Value": PRODUCTION_VARIANT}]
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        data: list[dict[str, Any]] = []
        for hour in range(1, 24 * 7):
            timestamp = now - timedelta(hours=hour)
            requests = QUIET if timestamp.hour in (3, 4) else BUSY
            data += [
                {"MetricName": "Invocations", "Dimensions": dimensions, "Timestamp": timestamp, "Value": requests},
                {"MetricName": "Invocation5XXErrors", "Dimensions": dimensions, "Timestamp": timestamp,
                 "Value": requests * 0.02},
            ]  # fmt: skip
        for start in range(0, len(data), 500):
            cloudwatch.put_metric_data(Namespace="AWS/SageMaker", MetricData=data[start : start + 500])
        monkeypatch.setattr(stats_commands, "session", lambda args: SESSION)
        yield


def test_the_plan_uses_the_quietest_hour_and_writes_a_chart(
    week_of_traffic: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = tmp_path / "power.png"
    code = main(["plan", "--from-endpoint", "--project", PROJECT, "--env", ENV, "--chart", str(chart), "--json"])
    assert code == 0
    document = json.loads(capsys.readouterr().out)
    endpoint = document["endpoint"]
    assert endpoint["quietest_requests_per_minute"] == pytest.approx(QUIET / 60)
    assert endpoint["error_rate"] == pytest.approx(0.02)
    sizes = document["canary_sizes"]
    assert [size["instances"] for size in sizes] == [1, 2]
    assert sizes[1]["bake_needed_seconds"] <= sizes[0]["bake_needed_seconds"]  # a larger canary decides sooner
    assert set(document["plan_at_configured_bake"]) >= {"bake_seconds", "needed_seconds", "metrics"}
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_formula_plan_still_needs_its_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--kind", "proportion"]) == 2
    assert "--baseline, --mde, --requests-per-minute, --canary-share required" in capsys.readouterr().err


def test_latency_spread_comes_from_the_p90_to_p50_ratio() -> None:
    hour = datetime(2026, 1, 1, tzinfo=UTC)
    profile = summarise(
        "e",
        {
            "invocations": {hour: 600.0},
            "errors": {hour: 6.0},
            "latency_count": {hour: 600.0},
            "p50": {hour: 100_000.0},
            "p90": {hour: 100_000.0 * 2.718281828 ** (0.8 * 1.2815515655446004)},
            "p99": {hour: 500_000.0},
        },
    )
    assert profile.latency_log_sigma == pytest.approx(0.8)
    assert profile.latency_p50_ms == pytest.approx(100.0)
    assert profile.latency_p99_over_p50 == pytest.approx(5.0)
