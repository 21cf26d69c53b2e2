"""The gateway served for real (`python -m gateway`, as the container runs it) on 127.0.0.1, called over HTTP.

Two gateway processes stand for two ECS tasks behind the load balancer: `gateway` (2 workers) reads its signing key
from `PREDICTION_ID_SECRET`, as ECS injects it, and calls the stub endpoint; `peer` reads the same key from Secrets
Manager (moto) by ARN and calls moto's own sagemaker-runtime. Both ask moto for DescribeEndpoint.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from serving.stub_endpoint import StubBehaviour, running_stub
from tests.integration.gateway.gateway_harness import (
    SECRET,
    STUB_VARIANTS,
    Gateway,
    GatewayAccess,
    gateway_access,
    gateway_environment,
    running_gateway,
)
from tests.support.aws import MotoServer, moto_server


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoServer]:
    with moto_server() as server:
        yield server


@pytest.fixture(scope="session")
def access(moto: MotoServer) -> GatewayAccess:
    return gateway_access(moto)


@pytest.fixture(scope="session")
def stub_behaviour() -> StubBehaviour:
    return StubBehaviour(variants=STUB_VARIANTS)


@pytest.fixture(scope="session")
def stub_url(stub_behaviour: StubBehaviour) -> Iterator[str]:
    with running_stub(stub_behaviour) as url:
        yield url


@pytest.fixture
def stub(stub_behaviour: StubBehaviour, stub_url: str) -> StubBehaviour:
    """The session's stub endpoint, with no scripted reply, no recorded request and its rotation restarted."""
    stub_behaviour.reset()
    return stub_behaviour


@pytest.fixture(scope="session")
def gateway(
    moto: MotoServer, stub_url: str, access: GatewayAccess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    env = gateway_environment(moto, stub_url, access, PREDICTION_ID_SECRET=SECRET, WORKERS="2")
    with running_gateway(env, tmp_path_factory.mktemp("gateway") / "stdout.log", access.api_key) as running:
        yield running


@pytest.fixture(scope="session")
def peer(moto: MotoServer, access: GatewayAccess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    arn = moto.client("secretsmanager").create_secret(Name="gateway-it-signing-key", SecretString=SECRET)["ARN"]
    env = gateway_environment(moto, moto.url, access, PREDICTION_ID_SECRET_ARN=arn)
    with running_gateway(env, tmp_path_factory.mktemp("peer") / "stdout.log", access.api_key) as running:
        yield running
