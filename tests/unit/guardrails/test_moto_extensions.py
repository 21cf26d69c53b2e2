"""The moto extensions behave like SageMaker where the deploy tests rely on them, and vanish outside their block."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.sagemaker.models import SageMakerModelBackend

from testbed.aws import SESSION
from testbed.deploy_world import ROLE_ARN
from testbed.moto_sagemaker import EndpointUpdates, sagemaker_extensions


def endpoint_on(sm: Any, name: str = "e") -> str:
    for config in ("c1", "c2"):
        sm.create_model(ModelName=f"m-{config}", ExecutionRoleArn=ROLE_ARN, PrimaryContainer={"Image": "i"})
        sm.create_endpoint_config(
            EndpointConfigName=config,
            ProductionVariants=[
                {"VariantName": "AllTraffic", "ModelName": f"m-{config}", "InstanceType": "ml.m5.large",
                 "InitialInstanceCount": 2, "InitialVariantWeight": 1.0}
            ],
        )  # fmt: skip
    return sm.create_endpoint(EndpointName=name, EndpointConfigName="c1")["EndpointArn"]


def test_an_update_is_in_progress_until_its_planned_outcome(sm: Any, updates: EndpointUpdates) -> None:
    endpoint_on(sm)
    updates.plan("e", "rollback", polls=2, reason="alarm")
    sm.update_endpoint(EndpointName="e", EndpointConfigName="c2")
    first = sm.describe_endpoint(EndpointName="e")
    assert (first["EndpointStatus"], first["PendingDeploymentSummary"]["EndpointConfigName"]) == ("Updating", "c2")
    with pytest.raises(ClientError, match="Cannot update in-progress endpoint"):
        sm.update_endpoint(EndpointName="e", EndpointConfigName="c2")
    final = sm.describe_endpoint(EndpointName="e")
    assert (final["EndpointStatus"], final["EndpointConfigName"], final["FailureReason"]) == (
        "InService",
        "c1",
        "alarm",
    )


def test_a_guarded_update_must_keep_variant_names(sm: Any) -> None:
    endpoint_on(sm)
    sm.create_endpoint_config(
        EndpointConfigName="renamed",
        ProductionVariants=[{"VariantName": "v2", "ModelName": "m-c2", "InstanceType": "ml.m5.large",
                             "InitialInstanceCount": 1}],
    )  # fmt: skip
    policy = {
        "BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0}}
    }
    with pytest.raises(ClientError, match="keep the variant names"):
        sm.update_endpoint(EndpointName="e", EndpointConfigName="renamed", DeploymentConfig=policy)


def test_weights_change_only_what_was_asked(sm: Any) -> None:
    endpoint_on(sm)
    sm.update_endpoint_weights_and_capacities(
        EndpointName="e", DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredWeight": 0.5}]
    )
    variant = sm.describe_endpoint(EndpointName="e")["ProductionVariants"][0]
    assert (variant["CurrentWeight"], variant["CurrentInstanceCount"]) == (0.5, 2)


def test_add_tags_replaces_a_value(sm: Any) -> None:
    arn = endpoint_on(sm)
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "k", "Value": "1"}])
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "k", "Value": "2"}])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "k", "Value": "2"}]


def test_package_metadata_survives_an_approval(sm: Any) -> None:
    sm.create_model_package_group(ModelPackageGroupName="g")
    arn = sm.create_model_package(
        ModelPackageGroupName="g",
        ModelApprovalStatus="PendingManualApproval",
        CustomerMetadataProperties={"auc": "0.9"},
    )["ModelPackageArn"]
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    assert sm.describe_model_package(ModelPackageName=arn)["CustomerMetadataProperties"] == {"auc": "0.9"}


def test_invoking_a_missing_endpoint_fails(runtime: Any) -> None:
    with pytest.raises(ClientError, match=r"Endpoint nowhere of account \d+ not found"):
        runtime.invoke_endpoint(EndpointName="nowhere", ContentType="text/csv", Body=b"1")


def test_outside_the_block_moto_is_untouched(monkeypatch: pytest.MonkeyPatch) -> None:
    """The block restores what it found (another test of the same worker may still hold the extensions open)."""
    before = "update_endpoint" in SageMakerModelBackend.__dict__
    with sagemaker_extensions():
        assert "update_endpoint" in SageMakerModelBackend.__dict__
    assert ("update_endpoint" in SageMakerModelBackend.__dict__) is before
    if before:
        return
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-northeast-2")
    with mock_aws(), pytest.raises(NotImplementedError):
        SESSION.client("sagemaker").update_endpoint(EndpointName="e", EndpointConfigName="c")
