"""A deployment in progress on moto (testbed/blue_green.py) as fixtures: the clock, moto's clients, a blue/green."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

import pytest

from safedeploy.lambda_actions.aws_clients import AwsClients
from testbed.aws import SESSION, in_process_aws
from testbed.blue_green import Deployment, artifacts_bucket, start_blue_green
from testbed.deploy_world import ENDPOINT
from testbed.fleet_metrics import FleetBehaviour
from tests.support.clock import SetClock, set_clock

HEALTHY = FleetBehaviour(error_rate=0.01, latency_ms=50)


@pytest.fixture(autouse=True)
def clock() -> Iterator[SetClock]:
    """The clock the analysis and the shifter read; a test that plays minutes ahead sets it to the played minute."""
    with set_clock() as settable:
        yield settable


@pytest.fixture
def clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsClients]:
    with in_process_aws(monkeypatch):
        aws = AwsClients(session=SESSION)
        artifacts_bucket(aws)
        yield aws


@pytest.fixture
def blue_green(clients: AwsClients) -> Callable[..., Deployment]:
    return lambda **settings: start_blue_green(clients, **settings)


def verdict_values(clients: AwsClients, start: datetime, end: datetime) -> list[float]:
    cloudwatch = clients("cloudwatch")
    result = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "verdict",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "SafeDeploy/Canary",
                        "MetricName": "CanaryVerdict",
                        "Dimensions": [{"Name": "EndpointName", "Value": ENDPOINT}],
                    },
                    "Period": 60,
                    "Stat": "Maximum",
                },
            }
        ],
        StartTime=start,
        EndTime=end,
        ScanBy="TimestampAscending",
    )
    return list(result["MetricDataResults"][0]["Values"])
