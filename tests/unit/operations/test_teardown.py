"""`safedeploy teardown` on moto: what the deploys created goes first, then the stacks; what is retained is listed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from safedeploy.cli import main
from safedeploy.operations.teardown import STACK_PURPOSES, Teardown, TeardownRefused
from testbed.aws import REGION, SESSION, in_process_aws
from testbed.deploy_world import ENDPOINT, ENV, IMAGE, PROJECT, ROLE_ARN, provision_parameters

OTHER_MODEL = "demo-dev-endpoint-tools"  # shares the prefix, but no deploy creates such a name


def template(retained_bucket: bool) -> str:
    resources: dict[str, Any] = {"Topic": {"Type": "AWS::SNS::Topic"}}
    if retained_bucket:
        resources["Data"] = {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
    return json.dumps({"Resources": resources})


def deploy_stacks(env: str = ENV) -> None:
    cloudformation = SESSION.client("cloudformation")
    for purpose in STACK_PURPOSES:
        cloudformation.create_stack(
            StackName=f"{PROJECT}-{env}-{purpose}", TemplateBody=template(retained_bucket=purpose == "storage")
        )


def deploy_endpoint(versions: tuple[int, ...] = (1, 2)) -> None:
    sm = SESSION.client("sagemaker")
    for version in versions:
        name = f"{ENDPOINT}-v{version}"
        sm.create_model(ModelName=name, ExecutionRoleArn=ROLE_ARN, PrimaryContainer={"Image": IMAGE})
        sm.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": name,
                    "InitialInstanceCount": 2,
                    "InstanceType": "ml.m5.large",
                }
            ],
        )
    sm.create_model(ModelName=OTHER_MODEL, ExecutionRoleArn=ROLE_ARN, PrimaryContainer={"Image": IMAGE})
    sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=f"{ENDPOINT}-v{versions[-1]}")
    SESSION.client("application-autoscaling").register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=f"endpoint/{ENDPOINT}/variant/AllTraffic",
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        MinCapacity=2,
        MaxCapacity=4,
    )


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with in_process_aws(monkeypatch):
        provision_parameters(SESSION.client("ssm"))
        yield


def teardown(env: str = ENV, progress: list[str] | None = None) -> Teardown:
    sink = progress if progress is not None else []
    return Teardown(SESSION.client, PROJECT, env, progress=sink.append, poll_seconds=0, sleep=lambda _: None)


def test_teardown_removes_autoscaling_endpoint_configs_models_then_stacks(aws: None) -> None:
    deploy_stacks()
    deploy_endpoint()
    progress: list[str] = []

    report = teardown(progress=progress).run()

    sm = SESSION.client("sagemaker")
    with pytest.raises(ClientError, match="Could not find endpoint"):
        sm.describe_endpoint(EndpointName=ENDPOINT)
    assert sm.list_endpoint_configs()["EndpointConfigs"] == []
    assert [model["ModelName"] for model in sm.list_models()["Models"]] == [OTHER_MODEL]
    targets = SESSION.client("application-autoscaling").describe_scalable_targets(ServiceNamespace="sagemaker")
    assert targets["ScalableTargets"] == []
    stacks = SESSION.client("cloudformation").list_stacks()["StackSummaries"]
    assert {stack["StackStatus"] for stack in stacks} == {"DELETE_COMPLETE"}
    assert report.removed == [
        f"scalable target endpoint/{ENDPOINT}/variant/AllTraffic",
        f"endpoint {ENDPOINT}",
        f"endpoint config {ENDPOINT}-v1",
        f"endpoint config {ENDPOINT}-v2",
        f"model {ENDPOINT}-v1",
        f"model {ENDPOINT}-v2",
        *(f"stack {PROJECT}-{ENV}-{purpose}" for purpose in STACK_PURPOSES),
    ]
    assert [(item.resource_type, item.stack) for item in report.retained] == [
        ("AWS::S3::Bucket", f"{PROJECT}-{ENV}-storage")
    ]
    assert progress[0] == f"[1/4] autoscaling of {ENDPOINT}"
    assert "retained (delete by hand if no longer needed):" in report.summary()


def test_teardown_of_an_environment_never_deployed_to_is_quiet(aws: None) -> None:
    deploy_stacks()
    progress: list[str] = []

    report = teardown(progress=progress).run()

    assert f"  {ENDPOINT} does not exist" in progress
    assert len(report.removed) == len(STACK_PURPOSES)


def test_prod_is_refused_without_the_confirmation_and_nothing_is_deleted(aws: None) -> None:
    deploy_stacks("prod")

    with pytest.raises(TeardownRefused, match=r"^demo-prod is production: .* pass --confirm-production"):
        teardown("prod").run()

    stacks = SESSION.client("cloudformation").list_stacks()["StackSummaries"]
    assert {stack["StackStatus"] for stack in stacks} == {"CREATE_COMPLETE"}


def test_prod_goes_with_the_confirmation(aws: None) -> None:
    deploy_stacks("prod")
    report = teardown("prod").run(confirm_production=True)
    assert report.removed[-1] == "stack demo-prod-storage"


def test_a_protected_stack_needs_the_confirmation_outside_prod(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    work = teardown()
    describe = work._describe_stack
    monkeypatch.setattr(
        work,
        "_describe_stack",
        lambda name: {
            **(describe(name) or {}),
            "StackName": name,
            "StackStatus": "CREATE_COMPLETE",
            "EnableTerminationProtection": True,
        },
    )
    with pytest.raises(TeardownRefused, match=r"demo-dev-monitoring, .* protected"):
        work.check_allowed(confirm_production=False)


def test_the_cli_refuses_prod_in_one_line(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    deploy_stacks("prod")
    assert main(["teardown", "--project", PROJECT, "--env", "prod", "--region", REGION]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("safedeploy teardown: error: demo-prod is production")


def test_the_cli_tears_down_and_lists_what_is_retained(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    deploy_stacks()
    deploy_endpoint((1,))
    assert main(["teardown", "--project", PROJECT, "--env", ENV, "--region", REGION, "--poll-seconds", "0"]) == 0
    output = capsys.readouterr().out
    assert f"removed {ENDPOINT}" not in output and f"  removed endpoint {ENDPOINT}" in output
    assert "AWS::S3::Bucket" in output.split("retained")[-1]
