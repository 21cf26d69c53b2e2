"""The gateway's calls are its task role's, decided against the synthesized IAM: without a permission it needs, the
call is refused where it is made and the test sees the denial (the gateway signs InvokeEndpoint itself, outside
botocore, and that request is decided too)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from serving.stub_endpoint import StubBehaviour
from testbed import aws_contracts, iam_enforcement, iam_world
from testbed.aws import REGION, MotoServer
from testbed.gateway_harness import (
    ENDPOINT,
    SECRET_VARIABLE,
    GatewayAccess,
    GatewayPolicies,
    gateway_environment,
    running_gateway,
)
from testbed.iam_eval import ACCOUNT

pytestmark = pytest.mark.integration

ROW = [0.9, 1, 0, 1, 0, 0, 1, 1]


def test_a_task_role_without_invoke_endpoint_has_its_predictions_refused(
    moto: MotoServer,
    access: GatewayAccess,
    policies: GatewayPolicies,
    injected_secret: str,
    stub_url: str,
    stub: StubBehaviour,
    tmp_path: Path,
) -> None:
    world = iam_world.without_action(policies.world, policies.task_role, "sagemaker:InvokeEndpoint")
    acting = iam_enforcement.subprocess_environment(policies.task_role, iam_enforcement.write_world([world], tmp_path))
    env = gateway_environment(moto, stub_url, access, WORKERS="1", **{SECRET_VARIABLE: injected_secret}, **acting)

    with running_gateway(env, tmp_path / "stdout.log", access.api_key) as gateway, gateway.client() as client:
        answer: Any = client.post("/predict", json={"instances": [ROW]})
    denials = aws_contracts.subprocess_violations()  # taken here, so that they do not fail this test

    assert (answer.status_code, answer.json()["error"]["code"]) == (503, "endpoint_unavailable")
    assert stub.received == []  # refused before it left the gateway
    endpoint = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{ENDPOINT}"
    request = f"{policies.task_role} sagemaker:InvokeEndpoint on {endpoint}"
    assert denials and all(f"IAM: sagemaker-runtime InvokeEndpoint: {request}: denied" in line for line in denials)
