"""Least-privilege policy statements, so every role in the app is built from the same narrow pieces.

No builder grants a `*` action. A `*` resource appears only for APIs that accept nothing narrower, and each such
builder names the API in its docstring so the cdk-nag acknowledgement next to its use can say why.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from infra.naming import Naming

S3_READ = ("s3:GetObject", "s3:GetObjectVersion")
S3_WRITE = ("s3:PutObject", "s3:AbortMultipartUpload")
KMS_DECRYPT = ("kms:Decrypt", "kms:DescribeKey")
KMS_ENCRYPT = (
    "kms:Encrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
)


def s3_objects(bucket: s3.IBucket, prefixes: Sequence[str], *, write: bool = False) -> list[iam.PolicyStatement]:
    """Object access under the given prefixes, plus listing restricted to the same prefixes."""
    actions = [*S3_READ, *S3_WRITE] if write else list(S3_READ)
    return [
        iam.PolicyStatement(
            actions=actions, resources=[bucket.arn_for_objects(f"{prefix.strip('/')}/*") for prefix in prefixes]
        ),
        s3_list(bucket, prefixes),
    ]


def s3_list(bucket: s3.IBucket, prefixes: Sequence[str]) -> iam.PolicyStatement:
    """ListBucket (ListObjectsV2) restricted to requests whose prefix is under the given prefixes."""
    return iam.PolicyStatement(
        actions=["s3:ListBucket"],
        resources=[bucket.bucket_arn],
        conditions={"StringLike": {"s3:prefix": [f"{prefix.strip('/')}/*" for prefix in prefixes]}},
    )


def s3_put(bucket: s3.IBucket, prefixes: Sequence[str]) -> iam.PolicyStatement:
    """PutObject alone under the given prefixes (new write-once records; nothing read back)."""
    return s3_put_keys(bucket, [f"{prefix.strip('/')}/*" for prefix in prefixes])


def s3_put_keys(bucket: s3.IBucket, key_patterns: Sequence[str]) -> iam.PolicyStatement:
    """PutObject alone on keys matching the patterns (IAM wildcards, e.g. `rolled-back/*.mark.json`)."""
    return iam.PolicyStatement(
        actions=["s3:PutObject"], resources=[bucket.arn_for_objects(pattern) for pattern in key_patterns]
    )


def kms_use(key: kms.IKey, *, encrypt: bool = False) -> iam.PolicyStatement:
    return iam.PolicyStatement(actions=[*KMS_DECRYPT, *(KMS_ENCRYPT if encrypt else ())], resources=[key.key_arn])


def ssm_read(stack: Stack, naming: Naming) -> iam.PolicyStatement:
    """Read this environment's parameters only (`/<project>/<env>/*`)."""
    return iam.PolicyStatement(
        actions=["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"],
        resources=[
            stack.format_arn(service="ssm", resource="parameter", resource_name=f"{naming.project}/{naming.env}/*")
        ],
    )


def sagemaker_resources(stack: Stack, naming: Naming, resource_types: Iterable[str]) -> list[str]:
    """ARNs of SageMaker resources of the given types whose names start with `<project>-<env>-`."""
    return [
        stack.format_arn(
            service="sagemaker",
            resource=resource_type,
            resource_name=f"{naming.prefix}-*",
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        for resource_type in resource_types
    ]


def sagemaker_actions(
    stack: Stack, naming: Naming, actions: Sequence[str], resource_types: Iterable[str]
) -> iam.PolicyStatement:
    return iam.PolicyStatement(actions=list(actions), resources=sagemaker_resources(stack, naming, resource_types))


def model_packages(stack: Stack, group: str, actions: Sequence[str]) -> iam.PolicyStatement:
    """`actions` on the versions of one model package group (`model-package/<group>/<version>`) and nothing else.

    An environment serves the packages of its chain's origin (prod serves what dev registered and approved), so its
    roles name the origin's group, never a pattern of their own environment's names.
    """
    return iam.PolicyStatement(actions=list(actions), resources=[model_package_versions(stack, group)])


def model_package_versions(stack: Stack, group: str) -> str:
    return stack.format_arn(
        service="sagemaker",
        resource="model-package",
        resource_name=f"{group}/*",
        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
    )


def log_group_write(stack: Stack, log_group_name_prefix: str) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
        resources=[
            stack.format_arn(
                service="logs",
                resource="log-group",
                resource_name=f"{log_group_name_prefix}*",
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
        ],
    )


def ecr_auth_token() -> iam.PolicyStatement:
    """ecr:GetAuthorizationToken: the API has no resource-level permissions, so its resource must be `*`."""
    return iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"])


def ecr_pull(repository_arns: Sequence[str]) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        actions=["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"],
        resources=list(repository_arns),
    )


def put_metric_data(namespaces: Sequence[str]) -> iam.PolicyStatement:
    """cloudwatch:PutMetricData has no resource-level permissions (`*`); a namespace condition narrows it."""
    return iam.PolicyStatement(
        actions=["cloudwatch:PutMetricData"],
        resources=["*"],
        conditions={"StringEquals": {"cloudwatch:namespace": list(namespaces)}},
    )


def describe_alarms(stack: Stack, naming: Naming) -> iam.PolicyStatement:
    """Read this environment's alarms (`<project>-<env>-*`), e.g. a deployment's auto-rollback alarms."""
    return iam.PolicyStatement(
        actions=["cloudwatch:DescribeAlarms"],
        resources=[
            stack.format_arn(
                service="cloudwatch",
                resource="alarm",
                resource_name=f"{naming.prefix}-*",
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
        ],
    )
