"""A request a process signs itself (the gateway's InvokeEndpoint, sent over aiohttp rather than botocore) is decided
against the synthesized IAM like any botocore call: recognised by its SigV4 credential scope and path, allowed for
the task role on its own endpoint, denied elsewhere, and refused when no mapping names it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from safedeploy.naming import Naming
from serving.gateway.aws_signing import RequestSigner
from testbed import aws_contracts, iam_enforcement, iam_world
from testbed.aws import REGION
from testbed.iam_eval import PolicyWorld

DEV = Naming("my-mlops", "dev")
RUNTIME = f"https://runtime.sagemaker.{REGION}.amazonaws.com"
CREDENTIALS = SimpleNamespace(access_key="AKIDEXAMPLE", secret_key="secret", token="token")


@pytest.fixture(scope="module")
def world(cdk_context: dict[str, Any]) -> PolicyWorld:
    return iam_world.policy_world(cdk_context, REGION)


@pytest.fixture
def task_role(world: PolicyWorld, tmp_path: Path) -> Iterator[str]:
    role = iam_world.gateway_task_role(world, DEV)
    with iam_enforcement.policies_in_force([world], tmp_path), iam_enforcement.acting_as(role):
        yield role


def _signed(url: str) -> dict[str, str]:
    """The headers the gateway's own signer sends with an InvokeEndpoint POST to `url`."""
    return RequestSigner(REGION).sign(CREDENTIALS, url, b"0.5\n", {"Content-Type": "text/csv"}, 1_700_000_000)


def test_the_task_role_may_invoke_its_own_endpoint(task_role: str) -> None:
    url = f"{RUNTIME}/endpoints/{DEV.endpoint}/invocations"
    assert iam_enforcement.signed_request_denial("POST", url, _signed(url)) is None


def test_another_endpoint_is_denied_to_it(task_role: str) -> None:
    other = Naming("my-mlops", "prod").endpoint
    url = f"{RUNTIME}/endpoints/{other}/invocations"

    denial = iam_enforcement.signed_request_denial("POST", url, _signed(url))

    assert denial is not None
    assert (denial.service, denial.operation) == ("sagemaker-runtime", "InvokeEndpoint")
    assert f"{task_role} sagemaker:InvokeEndpoint on arn:aws:sagemaker:{REGION}:" in denial.reason
    assert denial.reason.endswith(f"endpoint/{other}: denied (no policy allows it (implicit deny))")


def test_a_signed_request_nobody_mapped_is_refused(task_role: str) -> None:
    url = f"{RUNTIME}/endpoints/{DEV.endpoint}/async-invocations"

    denial = iam_enforcement.signed_request_denial("POST", url, _signed(url))

    assert denial is not None and "no mapping names" in denial.reason


def test_a_request_not_signed_for_aws_is_not_an_aws_call(task_role: str) -> None:
    assert iam_enforcement.signed_request_denial("GET", "http://127.0.0.1:8080/health/live", {}) is None


def test_a_subprocess_that_imports_aiohttp_first_has_its_signed_requests_decided(
    world: PolicyWorld, tmp_path: Path
) -> None:
    """The gateway imports aiohttp before boto3; its requests are decided all the same, and a denial ends it."""
    other = Naming("my-mlops", "prod").endpoint
    script = (
        "import asyncio, aiohttp, boto3\n"
        "async def main():\n"
        "    async with aiohttp.ClientSession() as http:\n"
        f"        await http.post('http://127.0.0.1:9/endpoints/{other}/invocations', data=b'1', headers={{\n"
        f"            'Authorization': 'AWS4-HMAC-SHA256 Credential=AKID/20260101/{REGION}/sagemaker/aws4_request'}})\n"
        "try:\n"
        "    asyncio.run(main())\n"
        "except aiohttp.ClientConnectionError as error:\n"
        "    print('refused:', error)\n"
    )
    role = iam_world.gateway_task_role(world, DEV)
    acting = iam_enforcement.subprocess_environment(role, iam_enforcement.write_world([world], tmp_path))
    env = {**os.environ, **aws_contracts.subprocess_environment(), **acting}

    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False)
    reported = aws_contracts.subprocess_violations()  # taken here, so that they do not fail this test

    assert done.returncode != 0 and "refused: IAM: sagemaker-runtime InvokeEndpoint" in done.stdout, done.stderr
    assert len(reported) == 1 and f"{role} sagemaker:InvokeEndpoint" in reported[0] and other in reported[0]
