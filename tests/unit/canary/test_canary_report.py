"""`safedeploy report`: the decision records of a deployment as a picture and a page."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from safedeploy.canary.outputs import record_key
from safedeploy.canary.report import Timeline, draw, load_timeline, render_html, render_png, write_report
from safedeploy.cli import main
from safedeploy.parameters import Param, parameter_name
from safedeploy.s3_layout import rollback_record_key
from testbed.aws import REGION, SESSION, in_process_aws

ENDPOINT, BUCKET = "demo-dev-endpoint", "demo-dev-artifacts"
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def record(minute: int, decision: str, statistic: float, boundary: float, deployment: str = "demo-dev-endpoint-v2"):
    per_minute = 100
    return {
        "endpoint_name": ENDPOINT,
        "deployment_id": deployment,
        "kind": "blue_green",
        "at": (START + timedelta(minutes=minute)).isoformat(),
        "fleets": {"baseline": "demo-dev-endpoint-v1", "candidate": deployment},
        "decision": decision,
        "reasons": [f"minute {minute}"],
        "verdict": {
            "decision": decision,
            "metrics": {
                "error_rate": {
                    "kind": "proportion",
                    "harm_direction": "increase",
                    "statistic": statistic,
                    "boundary": boundary,
                    "n_baseline": 2.0 * per_minute * minute,
                    "n_candidate": 1.0 * per_minute * minute,
                    "baseline": 0.01,
                    "candidate": 0.01 + 0.01 * statistic,
                    "effect": 0.01 * statistic,
                    "ci": [0.01 * statistic - 0.01, 0.01 * statistic + 0.01],
                    "standard_error": 0.01 / minute,
                    "harm_threshold": 0.01 * boundary,
                },
                "latency_ms": {"kind": "mean", "statistic": None, "boundary": None},
            },
        },
    }


RECORDS = [record(1, "CONTINUE", 0.5, 6.0), record(2, "CONTINUE", 2.0, 4.1), record(3, "ROLLBACK", 4.5, 3.2)]


def test_the_timeline_reads_verdict_changes_alarm_and_traffic() -> None:
    timeline = Timeline.from_records(list(reversed(RECORDS)))
    assert timeline.changes() == [(0.0, "CONTINUE"), (2.0, "ROLLBACK")]
    assert timeline.alarm_minute() == 2.0
    minutes, baseline, candidate = timeline.traffic()
    assert (minutes, baseline, candidate) == ([0.0, 1.0, 2.0], [200.0, 200.0, 200.0], [100.0, 100.0, 100.0])
    assert timeline.final_decision == "ROLLBACK" and timeline.metric_names == ["error_rate", "latency_ms"]


def test_each_metric_is_drawn_and_summarised_in_its_own_units_with_the_oracle_time() -> None:
    timeline = Timeline.from_records(RECORDS)
    figure = draw(timeline)
    error_axis = figure.axes[0]
    lines = {line.get_label(): line for line in error_axis.get_lines()}
    assert list(lines["candidate - baseline"].get_ydata()) == pytest.approx([0.5, 2.0, 4.5])  # percentage points
    assert list(lines["harm boundary"].get_ydata()) == pytest.approx([6.0, 4.1, 3.2, 3.2])
    summary = timeline.summary("error_rate")
    # the first ROLLBACK is what is summarised: minute 3, 5.5 % against 1 %, standard error 0.01 / 3 over 3 minutes:
    # one minute's variance 3 x (0.01 / 3)^2, an SPRT for 0.045 needs 2 log 18 x that / 0.045^2 = 0.95 minutes
    assert summary.startswith("error_rate at minute 3 (ROLLBACK): candidate 5.5 % vs baseline 1 %, +4.5 percentage")
    assert summary.endswith("an SPRT that knew this difference would have needed about 1 minute")
    assert timeline.summary("latency_ms") == "latency_ms: no estimate at minute 3 (ROLLBACK)"


def test_the_page_states_the_power_left_at_the_measured_spread() -> None:
    plan = {
        "requests_per_minute": 96.0,
        "latency_log_sigma": 1.31,
        "power": 0.9,
        "metrics": [{"name": "latency_p50_ms", "power_at_bake": 0.71, "late_power_at_bake": 0.52}],
    }
    records = [*RECORDS[:2], {**RECORDS[2], "measured_plan": plan}]
    page = render_html(Timeline.from_records(records), b"")
    assert "measured 96 requests/minute and latency log sigma 1.31: latency_p50_ms power 0.71, 0.52 if it" in page
    assert "(declared 0.9)" in page


def test_no_records_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no decision records"):
        Timeline.from_records([])


def test_the_picture_is_a_png() -> None:
    assert render_png(Timeline.from_records(RECORDS)).startswith(b"\x89PNG")


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with in_process_aws(monkeypatch):
        client = SESSION.client("s3")
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        for item in [*RECORDS, record(1, "PROMOTE", 0.1, 6.0, deployment="demo-dev-endpoint-v1")]:
            at = datetime.fromisoformat(item["at"])
            if item["deployment_id"] == "demo-dev-endpoint-v1":
                at -= timedelta(days=1)
                item = {**item, "at": at.isoformat()}
            key = record_key(ENDPOINT, item["deployment_id"], at, item["decision"])
            client.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(item).encode())
        rollback = {"at": (START + timedelta(minutes=4)).isoformat(), "to_config": "demo-dev-endpoint-v1"}
        # where `safedeploy rollback` writes it (guardrails/rollback.py)
        client.put_object(
            Bucket=BUCKET, Key=rollback_record_key(ENDPOINT, "20260301T120400"), Body=json.dumps(rollback)
        )
        yield client


def test_the_latest_deployment_is_loaded_with_its_rollback(s3: Any, tmp_path: Path) -> None:
    timeline = load_timeline(s3, BUCKET, ENDPOINT)
    assert timeline.deployment_id == "demo-dev-endpoint-v2" and len(timeline.minutes) == 3
    assert [item["to_config"] for item in timeline.rollbacks] == ["demo-dev-endpoint-v1"]
    png, page = write_report(timeline, tmp_path)
    assert png.read_bytes().startswith(b"\x89PNG")
    text = page.read_text()
    outcome = "<b>rolled back to demo-dev-endpoint-v1 by an operator</b> after 3 analyses (last verdict ROLLBACK)"
    assert outcome in text and "data:image/png;base64," in text and "4.50 / 3.20" in text


def test_a_named_deployment_and_an_unknown_one(s3: Any) -> None:
    assert load_timeline(s3, BUCKET, ENDPOINT, "demo-dev-endpoint-v1").final_decision == "PROMOTE"
    with pytest.raises(ValueError, match="no records of deployment 'v9'; recorded: demo-dev-endpoint-v1, "):
        load_timeline(s3, BUCKET, ENDPOINT, "v9")


def test_the_cli_writes_both_files(s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    SESSION.client("ssm").put_parameter(
        Name=parameter_name("demo", "dev", Param.ARTIFACTS_BUCKET), Value=BUCKET, Type="String"
    )
    argv = ["report", ENDPOINT, "--project", "demo", "--env", "dev", "--region", REGION, "--output", str(tmp_path)]
    assert main(argv) == 0
    assert "3 analyses, rolled back to demo-dev-endpoint-v1 by an operator" in capsys.readouterr().out
    assert sorted(path.suffix for path in tmp_path.iterdir()) == [".html", ".png"]


def continuing(deployment: str, baseline: str, minutes: int = 3) -> list[dict[str, Any]]:
    """A blue/green bake that ended without a rollback: every verdict CONTINUE (SageMaker promotes at its end)."""
    return [
        {**record(minute, "CONTINUE", 0.1, 3.0, deployment), "fleets": {"baseline": baseline, "candidate": deployment}}
        for minute in range(1, minutes + 1)
    ]


def test_a_blue_green_candidate_that_went_on_to_serve_is_titled_promoted(s3: Any) -> None:
    def put(items: list[dict[str, Any]], day: int) -> None:
        for item in items:
            at = datetime.fromisoformat(item["at"]) + timedelta(days=day)
            key = record_key(ENDPOINT, item["deployment_id"], at, item["decision"])
            s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps({**item, "at": at.isoformat()}).encode())

    put(continuing("demo-dev-endpoint-v3", "demo-dev-endpoint-v1"), day=1)
    put(continuing("demo-dev-endpoint-v4", "demo-dev-endpoint-v3"), day=2)  # v3 was live when v4 was deployed
    assert load_timeline(s3, BUCKET, ENDPOINT, "demo-dev-endpoint-v3").outcome == "promoted"
    newest = load_timeline(s3, BUCKET, ENDPOINT)
    assert newest.outcome == "in progress or unknown (last verdict CONTINUE)"
    assert load_timeline(s3, BUCKET, ENDPOINT, serving_config="demo-dev-endpoint-v4").outcome == "promoted"
    assert load_timeline(s3, BUCKET, ENDPOINT, serving_config="demo-dev-endpoint-v3").outcome == (
        "not promoted (last verdict CONTINUE)"
    )
    promoted = draw(load_timeline(s3, BUCKET, ENDPOINT, "demo-dev-endpoint-v3"))
    assert promoted.texts[0].get_text().endswith(": 3 analyses, promoted")  # the suptitle, not "last verdict CONTINUE"
    assert [axis.get_ylabel() for axis in promoted.axes] == [
        "error_rate:\npercentage points",  # what is plotted: the difference in the rate's units
        "latency_ms:\nms",
        "requests per minute",
    ]
