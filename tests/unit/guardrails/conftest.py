from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from safedeploy.guardrails.deploy import deploy_package
from safedeploy.guardrails.deploy_target import DeployTarget
from safedeploy.guardrails.endpoint_status import EndpointWaiter
from safedeploy.guardrails.rolled_back import RolledBackMarks
from testbed.aws import REGION, SESSION, in_process_aws
from testbed.deploy_world import ENV, PROJECT, marks_beside, provision_parameters, register_approved
from testbed.moto_sagemaker import EndpointUpdates, endpoint_updates


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with in_process_aws(monkeypatch):
        yield


@pytest.fixture
def sm(aws: None) -> Any:
    return SESSION.client("sagemaker")


@pytest.fixture
def ssm(aws: None) -> Any:
    return SESSION.client("ssm")


@pytest.fixture
def runtime(aws: None) -> Any:
    return SESSION.client("sagemaker-runtime")


@pytest.fixture
def updates(aws: None) -> EndpointUpdates:
    return endpoint_updates(REGION)


@pytest.fixture
def progress() -> list[str]:
    return []


@pytest.fixture
def waiter(sm: Any, progress: list[str]) -> EndpointWaiter:
    return EndpointWaiter(sm, poll_seconds=0, progress=progress.append, sleep=lambda _: None)


@pytest.fixture
def target_for(ssm: Any) -> Any:
    """Publish the environment's parameters with these settings and load the deploy target from them."""

    def load(**settings: Any) -> DeployTarget:
        provision_parameters(ssm, settings)
        return DeployTarget.load(ssm, PROJECT, ENV, s3=SESSION.client("s3"))

    return load


@pytest.fixture
def marks(sm: Any) -> RolledBackMarks:
    return marks_beside(sm)


@pytest.fixture
def two_releases(sm: Any, target_for: Any, waiter: EndpointWaiter) -> list[str]:
    """Two packages a person approved, deployed one after the other: the second serves, the first is the way back."""
    target = target_for()
    packages = [register_approved(sm), register_approved(sm)]
    for package in packages:
        deploy_package(sm, package, target, waiter)
    return packages
