"""Canary-analysis Lambda figures: cold import of the handler, a warm invocation over 24 h of per-minute data for
two fleets (moto in-process stands in for CloudWatch, S3, SSM and SageMaker), and the layer's unzipped size.

Targets: warm invocation < 200 ms, cold import < 1.5 s, layer < 150 MB. Run: `.venv/bin/python bench/canary_lambda.py`.
A blue/green deployment guards error rate and latency (accuracy needs A/B variants, see docs/guardrails.md).
moto computes GetMetricData in pure Python at several seconds per day of data, which says nothing about CloudWatch;
so after one real call its response is replayed, and the warm figure is the handler's own work plus moto's SSM,
SageMaker, S3 and PutMetricData answers. The statistics alone are timed separately.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "SafeDeploy")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")

from infra.runtime_function import build_layer  # noqa: E402
from lambdas.canary_analysis import handler as canary_handler  # noqa: E402
from safedeploy import clock  # noqa: E402
from safedeploy.canary import analysis  # noqa: E402
from safedeploy.guardrails.deploy_target import DeployTarget  # noqa: E402
from safedeploy.lambda_actions.aws_clients import AwsClients  # noqa: E402
from testbed.aws import SESSION, in_process_aws  # noqa: E402
from testbed.blue_green import Deployment, artifacts_bucket, start_blue_green  # noqa: E402
from testbed.deploy_world import ENDPOINT, ENV, PROJECT  # noqa: E402
from testbed.fleet_metrics import FleetBehaviour, fleet_dimensions, publish_minute  # noqa: E402
from testbed.lambda_fakes import LambdaContext  # noqa: E402

MINUTES = 24 * 60
REPEATS = 5


def cold_import_seconds() -> float:
    script = (
        "import time; t = time.perf_counter(); import lambdas.canary_analysis.handler; print(time.perf_counter() - t)"
    )
    command = [sys.executable, "-c", script]
    runs = [float(subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stdout) for _ in "abc"]
    return statistics.median(runs)


def layer_megabytes() -> float:
    with tempfile.TemporaryDirectory() as output:
        build_layer(Path(output))
        return sum(path.stat().st_size for path in Path(output).rglob("*") if path.is_file()) / 1e6


def _day_of_traffic(deployment: Deployment) -> datetime:
    """Publish 24 h before the deployment's start and return that earlier start."""
    start = deployment.started_at.replace(second=0, microsecond=0) - timedelta(minutes=MINUTES)
    rng, healthy, cloudwatch = np.random.default_rng(1), FleetBehaviour(0.01, 50), deployment.clients("cloudwatch")
    for minute in range(MINUTES):
        at = start + timedelta(minutes=minute, seconds=30)
        for config, requests in ((deployment.old, 90), (deployment.new, 10)):
            publish_minute(cloudwatch, fleet_dimensions(ENDPOINT, "AllTraffic", config), at, requests, healthy, rng)
    return start


def _replay_metric_data(monkeypatch: pytest.MonkeyPatch, cloudwatch: object) -> None:
    fetch, answers = cloudwatch.get_metric_data, {}

    def replayed(**request: object) -> object:
        key = repr(sorted(request.items()))
        if key not in answers:
            answers[key] = fetch(**request)
        return answers[key]

    monkeypatch.setattr(cloudwatch, "get_metric_data", replayed)


def warm_invocation_ms() -> tuple[float, float]:
    with pytest.MonkeyPatch.context() as monkeypatch, in_process_aws(monkeypatch):
        monkeypatch.setenv("SAFEDEPLOY_PROJECT", PROJECT)
        monkeypatch.setenv("SAFEDEPLOY_ENV", ENV)
        clients = AwsClients(session=SESSION)
        monkeypatch.setattr(canary_handler, "clients", clients)
        artifacts_bucket(clients)
        deployment = start_blue_green(clients, canary={"expected_requests_per_minute": 100, "looks": 20})
        print(f"publishing {MINUTES} minutes x 2 fleets into moto ...", flush=True)
        start = _day_of_traffic(deployment)
        find = analysis.find_comparison
        monkeypatch.setattr(
            analysis,
            "find_comparison",
            lambda *args: dataclasses.replace(find(*args), started_at=start, traffic_since=start),
        )
        _replay_metric_data(monkeypatch, clients("cloudwatch"))
        now = start + timedelta(minutes=MINUTES, seconds=5)
        monkeypatch.setattr(clock, "utc_now", lambda: now)  # the handler's "now" is the clock's, never the event's
        event = {"source": "aws.events", "detail-type": "Scheduled Event", "time": now.isoformat(), "detail": {}}
        canary_handler.handler(event, LambdaContext())  # warm-up, as the second invocation of a container
        handler_ms = []
        for _ in range(REPEATS):
            began = time.perf_counter()
            canary_handler.handler(event, LambdaContext())
            handler_ms.append((time.perf_counter() - began) * 1000)
        settings = DeployTarget.load(clients("ssm"), PROJECT, ENV).guardrails.settings
        sm = clients("sagemaker")
        comparison = analysis.find_comparison(sm, analysis.describe_endpoint(sm, ENDPOINT), settings)
        grid = analysis.minute_grid(start, now)
        observations = analysis.read_fleets(clients("cloudwatch"), comparison, grid).observations
        policy = analysis.canary_policy(settings, comparison, set(observations.metrics))
        verdict_ms = []
        for _ in range(REPEATS):
            began = time.perf_counter()
            analysis.canary_verdict(observations, policy)
            verdict_ms.append((time.perf_counter() - began) * 1000)
        return statistics.median(handler_ms), statistics.median(verdict_ms)


def main() -> None:
    print(f"cold import of lambdas/canary_analysis/handler.py: {cold_import_seconds():.2f} s (target < 1.5 s)")
    handler_ms, verdict_ms = warm_invocation_ms()
    print(f"warm invocation, {MINUTES} min x 2 fleets x 2 metrics: {handler_ms:.0f} ms (target < 200 ms)")
    print(f"  canary_verdict alone over the same series: {verdict_ms:.1f} ms")
    print(f"layer, unzipped: {layer_megabytes():.0f} MB (target < 150 MB)")


if __name__ == "__main__":
    main()
