"""Builders for a deployable environment on moto: SSM parameters, a model package group and its packages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID

from safedeploy.guardrails.rolled_back import RolledBackMarks
from safedeploy.guardrails.settings import DeploymentSettings, GuardrailParameter
from safedeploy.parameters import Param, parameter_name
from safedeploy.serving_contract import ServingContract
from testbed.aws import SESSION
from testbed.evidence import approve, ensure_bucket, register_evidenced

PROJECT = "demo"
ENV = "dev"
ENDPOINT = f"{PROJECT}-{ENV}-endpoint"
GROUP = f"{PROJECT}-{ENV}-models"
ROLE_ARN = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/{PROJECT}-{ENV}-sagemaker-execution"
ALARMS = (
    f"{PROJECT}-{ENV}-endpoint-5xx-rate",
    f"{PROJECT}-{ENV}-endpoint-model-latency",
    f"{PROJECT}-{ENV}-canary-verdict",
)
IMAGE = f"{DEFAULT_ACCOUNT_ID}.dkr.ecr.ap-northeast-2.amazonaws.com/xgboost:1.7-1"
ARTIFACTS_BUCKET = f"{PROJECT}-{ENV}-artifacts"
DRIFT_BUCKET = f"{PROJECT}-{ENV}-drift-work"
KMS_KEY_ARN = f"arn:aws:kms:ap-northeast-2:{DEFAULT_ACCOUNT_ID}:key/00000000-0000-0000-0000-000000000000"
# What CloudFormation would have named, by the SSM parameter the storage stack publishes it under (iam_eval bindings).
BINDINGS = {
    parameter_name(PROJECT, ENV, Param.ARTIFACTS_BUCKET): ARTIFACTS_BUCKET,
    parameter_name(PROJECT, ENV, Param.DRIFT_BUCKET): DRIFT_BUCKET,
    parameter_name(PROJECT, ENV, Param.KMS_KEY_ARN): KMS_KEY_ARN,
}
# Fast settings: guarded strategies with short bakes, so that max_execution_timeout_seconds stays valid.
FAST = {"wait_interval_seconds": 60, "termination_wait_seconds": 0, "max_execution_timeout_seconds": 1200}

# The deploy tests' model: three columns, not the example's eight (nothing may assume the example's request).
CONTRACT = ServingContract(features=("tenure", "plan", "spend"), health_check=(12.0, 1.0, 42.5))


def provision_parameters(
    ssm: Any, settings: Mapping[str, Any] | None = None, alarm_names: Sequence[str] = ALARMS
) -> GuardrailParameter:
    """Publish what the storage and guardrails stacks publish for one environment (and create its artifacts bucket,
    where the rolled-back marks are)."""
    merged = {**FAST, **(settings or {})}
    # one-minute test bakes cannot reach a canary's power; tests that plan bakes say so themselves
    merged["canary"] = {"require_power": False, **merged.get("canary", {})}
    guardrails = GuardrailParameter(DeploymentSettings.from_mapping(merged), alarm_names)
    values = {
        Param.ENDPOINT_NAME: ENDPOINT,
        Param.SAGEMAKER_EXECUTION_ROLE_ARN: ROLE_ARN,
        Param.DEPLOYMENT_CONFIG: guardrails.to_json(),
        Param.MODEL_PACKAGE_GROUP: GROUP,
        Param.ARTIFACTS_BUCKET: ARTIFACTS_BUCKET,
        Param.DRIFT_BUCKET: DRIFT_BUCKET,
        Param.SERVING_CONTRACT: CONTRACT.to_json(),
    }
    ensure_bucket(_beside(ssm, "s3"), ARTIFACTS_BUCKET)
    for key, value in values.items():
        ssm.put_parameter(Name=parameter_name(PROJECT, ENV, key), Value=value, Type="String", Overwrite=True)
    return guardrails


def register_package(sm: Any, status: str = "Approved", group: str = GROUP) -> str:
    """A model package version as the training step registers it (container image plus model data)."""
    if not sm.list_model_package_groups(NameContains=group)["ModelPackageGroupSummaryList"]:
        sm.create_model_package_group(ModelPackageGroupName=group)
    count = len(sm.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"])
    return sm.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus=status,
        InferenceSpecification={
            "Containers": [
                {"Image": IMAGE, "ModelDataUrl": f"s3://{ARTIFACTS_BUCKET}/models/{count + 1}/model.tar.gz"}
            ],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        CustomerMetadataProperties={"auc": "0.91"},
    )["ModelPackageArn"]


def marks_beside(sm: Any) -> RolledBackMarks:
    """The environment's rolled-back marks, on the same (moto) endpoint as `sm`."""
    s3 = s3_beside(sm)
    ensure_bucket(s3, ARTIFACTS_BUCKET)
    return RolledBackMarks(s3, ARTIFACTS_BUCKET)


def s3_beside(sm: Any) -> Any:
    """An S3 client on the same (moto) endpoint and region as `sm`: a local server, or moto in process."""
    return _beside(sm, "s3")


def _beside(sm: Any, service: str) -> Any:
    endpoint = None if "amazonaws.com" in sm.meta.endpoint_url else sm.meta.endpoint_url
    return SESSION.client(service, endpoint_url=endpoint)


def register_approved(sm: Any, *, record: bool = True, group: str = GROUP, **evidence: Any) -> str:
    """A package as the pipeline leaves it once a person approved it: evidence, approval record, Approved status.

    Publishes the artifacts bucket and key parameters the deploy reads the records and bytes through.
    """
    s3, ssm = s3_beside(sm), _beside(sm, "ssm")
    for key, value in {Param.ARTIFACTS_BUCKET: ARTIFACTS_BUCKET, Param.KMS_KEY_ARN: KMS_KEY_ARN}.items():
        ssm.put_parameter(Name=parameter_name(PROJECT, ENV, key), Value=value, Type="String", Overwrite=True)
    package = register_evidenced(sm, s3, bucket=ARTIFACTS_BUCKET, group=group, **evidence)
    if record:
        approve(sm, s3, ARTIFACTS_BUCKET, package)
    else:
        sm.update_model_package(ModelPackageArn=package, ModelApprovalStatus="Approved")
    return package
