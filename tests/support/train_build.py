"""What a Train build finds in moto: the storage stack's key, buckets, model package group and SSM parameters of
`demo-dev`, and the settings the build reads from them (call inside `testbed.aws.in_process_aws`)."""

from __future__ import annotations

from safedeploy.build_steps.settings import ReleaseSettings
from safedeploy.parameters import Param, parameter_name
from testbed.aws import REGION, SESSION

PROJECT, ENV, GROUP, BUCKET, DATA_BUCKET = "demo", "dev", "demo-dev-models", "demo-dev-artifacts", "demo-dev-data"
COMMIT = "abcdef1234567890"


def provisioned_train_build(parameters: dict[Param, str] | None = None, **environment: str) -> ReleaseSettings:
    """`parameters` adds SSM parameters (e.g. the execution role), `environment` the build's variables."""
    key = SESSION.client("kms").create_key()["KeyMetadata"]["Arn"]
    for bucket in (BUCKET, DATA_BUCKET):
        SESSION.client("s3").create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    SESSION.client("sagemaker").create_model_package_group(ModelPackageGroupName=GROUP)
    ssm = SESSION.client("ssm")
    values = {
        Param.DATA_BUCKET: DATA_BUCKET,
        Param.ARTIFACTS_BUCKET: BUCKET,
        Param.KMS_KEY_ARN: key,
        Param.MODEL_PACKAGE_GROUP: GROUP,
        **(parameters or {}),
    }
    for name, value in values.items():
        ssm.put_parameter(Name=parameter_name(PROJECT, ENV, name), Value=value, Type="String")
    variables = {"PROJECT": PROJECT, "ENV": ENV, "CODEBUILD_RESOLVED_SOURCE_VERSION": COMMIT, **environment}
    return ReleaseSettings.from_environment(variables, ssm, region=REGION)
