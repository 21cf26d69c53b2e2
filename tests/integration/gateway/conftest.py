"""The gateway served for real (`python -m gateway`, as the container runs it) on 127.0.0.1, called over HTTP.

moto runs in a process of its own (`isolated_moto_server`): the gateways, the secret, tables and buckets live for
the session, and a `mock_aws` or moto reset of another test on the same pytest worker would empty an in-process one.

Two gateway processes stand for two ECS tasks behind the load balancer, each given the signing key as ECS gives it
(`PREDICTION_ID_SECRET`, read from Secrets Manager as the execution role): `gateway` (2 workers) calls the stub
endpoint, `peer` calls moto's own sagemaker-runtime. Both ask moto for DescribeEndpoint.

Every gateway these tests start acts as the synthesized task role (`gateway_env`): each AWS call it makes, its own
signed InvokeEndpoint included, is decided against the templates (of the tests' own configuration), and a denied one
fails the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from serving.stub_endpoint import StubBehaviour, running_stub
from testbed.aws import IsolatedMotoServer, isolated_moto_server
from testbed.gateway_harness import (
    SECRET_VARIABLE,
    STUB_VARIANTS,
    Gateway,
    GatewayAccess,
    GatewayEnv,
    GatewayPolicies,
    gateway_access,
    gateway_environment,
    gateway_policies,
    running_gateway,
)
from tests.support.configuration import two_environments


@pytest.fixture(scope="session")
def moto() -> Iterator[IsolatedMotoServer]:
    with isolated_moto_server() as server:
        yield server


@pytest.fixture(scope="session")
def policies(moto: IsolatedMotoServer, tmp_path_factory: pytest.TempPathFactory) -> GatewayPolicies:
    return gateway_policies(moto, tmp_path_factory.mktemp("iam"), two_environments())


@pytest.fixture(scope="session")
def access(moto: IsolatedMotoServer) -> GatewayAccess:
    return gateway_access(moto)


@pytest.fixture(scope="session")
def injected_secret(moto: IsolatedMotoServer, policies: GatewayPolicies) -> str:
    return policies.injected_secret(moto)


@pytest.fixture(scope="session")
def gateway_env(moto: IsolatedMotoServer, access: GatewayAccess, policies: GatewayPolicies) -> GatewayEnv:
    """`gateway_environment` of a gateway task acting as the synthesized task role."""

    def environment(runtime_url: str, **overrides: str) -> dict[str, str]:
        return gateway_environment(moto, runtime_url, access, **policies.acting_as_task_role(), **overrides)

    return environment


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
    gateway_env: GatewayEnv,
    stub_url: str,
    access: GatewayAccess,
    injected_secret: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Gateway]:
    env = gateway_env(stub_url, WORKERS="2", **{SECRET_VARIABLE: injected_secret})
    with running_gateway(env, tmp_path_factory.mktemp("gateway") / "stdout.log", access.api_key) as running:
        yield running


@pytest.fixture(scope="session")
def peer(
    gateway_env: GatewayEnv,
    moto: IsolatedMotoServer,
    access: GatewayAccess,
    injected_secret: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Gateway]:
    env = gateway_env(moto.url, **{SECRET_VARIABLE: injected_secret})
    with running_gateway(env, tmp_path_factory.mktemp("peer") / "stdout.log", access.api_key) as running:
        yield running


@pytest.fixture
def sm(moto: IsolatedMotoServer) -> Iterator[Any]:
    """moto's SageMaker with no endpoint, endpoint config or model left behind by the test."""
    client = moto.client("sagemaker")
    yield client
    for endpoint in client.list_endpoints()["Endpoints"]:
        client.delete_endpoint(EndpointName=endpoint["EndpointName"])
    for config in client.list_endpoint_configs()["EndpointConfigs"]:
        client.delete_endpoint_config(EndpointConfigName=config["EndpointConfigName"])
    for model in client.list_models()["Models"]:
        client.delete_model(ModelName=model["ModelName"])
