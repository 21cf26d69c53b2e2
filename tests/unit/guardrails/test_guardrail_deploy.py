"""Deploying a model package on moto: create, guarded updates, refusals, waiting, no-ops and SageMaker's rollback."""

from __future__ import annotations

import re
from datetime import datetime
from itertools import count
from typing import Any

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sagemaker.models import sagemaker_backends

from safedeploy.guardrails import resource_tags
from safedeploy.guardrails.deploy import DeployAction, deploy_package
from safedeploy.guardrails.deployment_config import deployment_config
from safedeploy.guardrails.endpoint_status import EndpointWaiter
from safedeploy.guardrails.errors import DeploymentFailed, NotServedHere, PackageNotApproved, PackageRolledBack
from testbed.aws import REGION
from testbed.deploy_world import ALARMS, ENDPOINT, IMAGE, ROLE_ARN, register_package
from testbed.moto_sagemaker import EndpointUpdates


def endpoint_tags(sm: Any) -> dict[str, str]:
    return resource_tags.read_tags(sm, sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointArn"])


def live_config(sm: Any) -> str:
    described = sm.describe_endpoint(EndpointName=ENDPOINT)
    assert described["EndpointStatus"] == "InService"
    return described["EndpointConfigName"]


def test_first_deploy_creates_model_config_and_endpoint(sm: Any, target_for: Any, waiter: EndpointWaiter) -> None:
    package = register_package(sm)
    result = deploy_package(sm, package, target_for(), waiter)

    assert (result.action, result.endpoint_config_name) == (DeployAction.CREATED, f"{ENDPOINT}-v1")
    model = sm.describe_model(ModelName=f"{ENDPOINT}-v1")
    assert model["PrimaryContainer"]["Image"] == IMAGE
    assert model["PrimaryContainer"]["ModelDataUrl"].endswith("/models/1/model.tar.gz")
    assert model["ExecutionRoleArn"] == ROLE_ARN
    config = sm.describe_endpoint_config(EndpointConfigName=f"{ENDPOINT}-v1")
    assert config["ProductionVariants"] == [
        {
            "VariantName": "AllTraffic",
            "ModelName": f"{ENDPOINT}-v1",
            "InstanceType": "ml.m5.large",
            "InitialInstanceCount": 2,
            "InitialVariantWeight": 1.0,
        }
    ]
    for arn in (model["ModelArn"], config["EndpointConfigArn"]):
        assert resource_tags.read_tags(sm, arn)[resource_tags.PACKAGE_ARN] == package
    assert live_config(sm) == f"{ENDPOINT}-v1"
    assert endpoint_tags(sm)[resource_tags.PACKAGE_ARN] == package


@pytest.mark.parametrize("strategy", ["canary", "linear", "all_at_once", "rolling"])
def test_update_sends_exactly_the_configured_guardrails(
    sm: Any, target_for: Any, waiter: EndpointWaiter, updates: EndpointUpdates, progress: list[str], strategy: str
) -> None:
    target = target_for(strategy=strategy)
    deploy_package(sm, register_package(sm), target, waiter)
    second = register_package(sm)

    result = deploy_package(sm, second, target, waiter)

    assert result.action is DeployAction.UPDATED
    assert updates.requests_for(ENDPOINT) == [
        {
            "EndpointName": ENDPOINT,
            "EndpointConfigName": f"{ENDPOINT}-v2",
            "DeploymentConfig": deployment_config(target.guardrails.settings, ALARMS),
        }
    ]
    sent = updates.requests_for(ENDPOINT)[0]["DeploymentConfig"]
    assert sent["AutoRollbackConfiguration"] == {"Alarms": [{"AlarmName": name} for name in ALARMS]}
    assert live_config(sm) == f"{ENDPOINT}-v2"
    tags = endpoint_tags(sm)
    assert datetime.fromisoformat(tags.pop(resource_tags.GUARDED_AT)).tzinfo is not None
    assert tags == {
        resource_tags.PREVIOUS_CONFIG: f"{ENDPOINT}-v1",
        resource_tags.PACKAGE_ARN: second,
        resource_tags.GUARDED_CONFIG: f"{ENDPOINT}-v2",  # the canary analysis judges this deployment
    }
    assert any(f"Updating on {ENDPOINT}-v1, deploying {ENDPOINT}-v2" in line for line in progress)
    share = f"deploying {ENDPOINT}-v2 to {ENDPOINT}: {target.guardrails.settings.traffic_share().describe()}"
    assert share in progress and "% of traffic in the first bake" in share


@pytest.mark.parametrize("status", ["PendingManualApproval", "Rejected"])
def test_a_package_that_is_not_approved_is_refused_before_anything_is_created(
    sm: Any, target_for: Any, waiter: EndpointWaiter, status: str
) -> None:
    package = register_package(sm, status=status)
    with pytest.raises(PackageNotApproved, match=f"{package} is {status}, not Approved: nothing was deployed"):
        deploy_package(sm, package, target_for(), waiter)
    assert sm.list_models()["Models"] == []
    assert sm.list_endpoint_configs()["EndpointConfigs"] == []
    assert sm.list_endpoints()["Endpoints"] == []
    assert sm.describe_model_package(ModelPackageName=package)["ModelApprovalStatus"] == status


def test_an_endpoint_being_updated_is_waited_for_not_clobbered(
    sm: Any, target_for: Any, waiter: EndpointWaiter, updates: EndpointUpdates, progress: list[str]
) -> None:
    target = target_for()
    deploy_package(sm, register_package(sm), target, waiter)
    deploy_package(sm, register_package(sm), target, waiter)
    updates.plan(ENDPOINT, polls=3)
    sm.update_endpoint(EndpointName=ENDPOINT, EndpointConfigName=f"{ENDPOINT}-v1")  # someone else's deployment

    deploy_package(sm, register_package(sm), target, waiter)

    assert [r["EndpointConfigName"] for r in updates.requests_for(ENDPOINT)] == [f"{ENDPOINT}-v{n}" for n in (2, 1, 3)]
    waited = progress.index(
        f"endpoint {ENDPOINT} is Updating: waiting for that to finish before deploying {ENDPOINT}-v3"
    )
    assert f"deploying {ENDPOINT}-v1" in progress[waited + 1]
    assert live_config(sm) == f"{ENDPOINT}-v3"
    assert endpoint_tags(sm)[resource_tags.PREVIOUS_CONFIG] == f"{ENDPOINT}-v1"


def test_deploying_the_live_package_again_changes_nothing(
    sm: Any, target_for: Any, waiter: EndpointWaiter, updates: EndpointUpdates
) -> None:
    target = target_for()
    package = register_package(sm)
    deploy_package(sm, package, target, waiter)

    again = deploy_package(sm, package, target, waiter)

    assert (again.action, again.endpoint_config_name) == (DeployAction.UNCHANGED, f"{ENDPOINT}-v1")
    assert updates.requests == []
    assert len(sm.list_endpoint_configs()["EndpointConfigs"]) == 1


def test_an_auto_rollback_is_a_failure_and_leaves_the_record_alone(
    sm: Any, target_for: Any, waiter: EndpointWaiter, updates: EndpointUpdates
) -> None:
    target = target_for()
    first = register_package(sm)
    deploy_package(sm, first, target, waiter)
    updates.plan(ENDPOINT, "rollback", reason="Alarm demo-dev-canary-verdict in ALARM")

    with pytest.raises(DeploymentFailed, match=f"rolled back by SageMaker: endpoint {ENDPOINT} still serves") as failed:
        deploy_package(sm, register_package(sm), target, waiter)

    assert "Alarm demo-dev-canary-verdict in ALARM" in str(failed.value)
    assert live_config(sm) == f"{ENDPOINT}-v1"
    tags = endpoint_tags(sm)
    assert tags[resource_tags.PACKAGE_ARN] == first and resource_tags.PREVIOUS_CONFIG not in tags


def test_a_rolled_back_package_is_deployed_again_only_with_the_override(
    sm: Any, target_for: Any, waiter: EndpointWaiter, updates: EndpointUpdates
) -> None:
    target = target_for()
    deploy_package(sm, register_package(sm), target, waiter)
    second = register_package(sm)
    updates.plan(ENDPOINT, "rollback")
    with pytest.raises(DeploymentFailed):
        deploy_package(sm, second, target, waiter)
    with pytest.raises(PackageRolledBack):
        deploy_package(sm, second, target, waiter)

    assert deploy_package(sm, second, target, waiter, allow_rolled_back=True).action is DeployAction.UPDATED
    assert live_config(sm) == f"{ENDPOINT}-v2"


def test_a_failed_rollback_tells_how_to_restore(
    sm: Any, target_for: Any, waiter: EndpointWaiter, updates: EndpointUpdates
) -> None:
    target = target_for()
    deploy_package(sm, register_package(sm), target, waiter)
    updates.plan(ENDPOINT, "fail")
    with pytest.raises(DeploymentFailed, match=f"rollback failed too.*safedeploy rollback --to {ENDPOINT}-v1"):
        deploy_package(sm, register_package(sm), target, waiter)


def test_a_config_name_owned_by_another_package_is_refused(sm: Any, target_for: Any, waiter: EndpointWaiter) -> None:
    target = target_for()
    deploy_package(sm, register_package(sm), target, waiter)
    stranger = register_package(sm, group="other-models")  # also version 1
    with pytest.raises(
        DeploymentFailed, match=f"model {ENDPOINT}-v1 already exists for .*demo-dev-models/1, not {stranger}"
    ):
        deploy_package(sm, stranger, target, waiter)


@pytest.mark.parametrize("same_package", [True, False])
def test_a_failed_endpoint_is_neither_updated_nor_reported_live(
    sm: Any, target_for: Any, waiter: EndpointWaiter, same_package: bool
) -> None:
    target = target_for()
    package = register_package(sm)
    deploy_package(sm, package, target, waiter)
    sagemaker_backends[DEFAULT_ACCOUNT_ID][REGION].endpoints[ENDPOINT].endpoint_status = "Failed"
    with pytest.raises(DeploymentFailed, match=f"endpoint {ENDPOINT} is Failed .*delete it and deploy again"):
        deploy_package(sm, package if same_package else register_package(sm), target, waiter)


def test_waiting_gives_up_after_the_timeout(sm: Any, target_for: Any, updates: EndpointUpdates) -> None:
    target = target_for()
    ticks = count(step=600)
    waiter = EndpointWaiter(
        sm, poll_seconds=0, timeout_seconds=1800, progress=lambda _: None, clock=lambda: next(ticks)
    )
    deploy_package(sm, register_package(sm), target, waiter)
    updates.plan(ENDPOINT, polls=100)
    with pytest.raises(DeploymentFailed, match=f"endpoint {ENDPOINT} is still Updating after 1800 s; stopped waiting"):
        deploy_package(sm, register_package(sm), target, waiter)


def test_a_malformed_package_arn_is_bad_input(sm: Any, target_for: Any, waiter: EndpointWaiter) -> None:
    with pytest.raises(ValueError, match="'arn:aws:sagemaker:x' is not a versioned model package ARN"):
        deploy_package(sm, "arn:aws:sagemaker:x", target_for(), waiter)


@pytest.mark.parametrize(
    "served_from",
    [
        "s3://my-mlops-dev-artifacts/pipelines/run-1/model.tar.gz",  # the pipeline's own, replaceable artifacts
        "s3://another-bucket/models/1/model.tar.gz",
        "s3://my-mlops-dev-artifacts/models/../pipelines/model.tar.gz",
    ],
)
def test_the_library_refuses_a_package_served_from_outside_its_write_once_models(
    sm: Any, target_for: Any, waiter: EndpointWaiter, served_from: str
) -> None:
    """Not only the CLI: a library caller (the acceptance suite, a script) gets the same refusal before any change,
    for the package's own URL and for a copy it names."""
    package = register_package(sm)
    outside = sm.create_model_package(
        ModelPackageGroupName=package.split("/")[1],
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [{"Image": IMAGE, "ModelDataUrl": served_from}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]
    target = target_for()

    for arn, copy in ((outside, None), (package, served_from)):
        with pytest.raises(NotServedHere, match=rf"^model artifact {re.escape(served_from)} is not under .*; nothing"):
            deploy_package(sm, arn, target, waiter, model_data_url=copy)
    assert (sm.list_models()["Models"], sm.list_endpoints()["Endpoints"]) == ([], [])
