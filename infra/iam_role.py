"""Least-privilege grants, so every role in the app is built from the same narrow pieces.

No builder grants a `*` action. Each returns a `Grant` (infra/grants.py): its statements and the reason its wildcards
are as narrow as they can be, built from the same arguments as the ARNs, so the cdk-nag acknowledgement of a wildcard
is derived where the wildcard is written. A `*` resource appears only for APIs that accept nothing narrower, and the
reason names the action.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from infra.grants import Grant
from safedeploy.naming import Naming

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


def s3_objects(bucket: s3.IBucket, prefixes: Sequence[str], *, write: bool = False) -> Grant:
    """Object access under the given prefixes, plus listing restricted to the same prefixes."""
    actions = [*S3_READ, *S3_WRITE] if write else list(S3_READ)
    keys = [f"{prefix.strip('/')}/*" for prefix in prefixes]
    return Grant.of(
        iam.PolicyStatement(actions=actions, resources=[bucket.arn_for_objects(key) for key in keys]),
        *s3_list(bucket, prefixes).statements,
        reason=f"S3 objects {'read and written' if write else 'read'} under {', '.join(keys)} only.",
    )


def s3_list(bucket: s3.IBucket, prefixes: Sequence[str]) -> Grant:
    """ListBucket (ListObjectsV2) restricted to requests whose prefix is under the given prefixes."""
    return Grant.of(
        iam.PolicyStatement(
            actions=["s3:ListBucket"],
            resources=[bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{prefix.strip('/')}/*" for prefix in prefixes]}},
        )
    )


def s3_keys(bucket: s3.IBucket, key_patterns: Sequence[str], actions: Sequence[str]) -> Grant:
    """`actions` on the keys matching the patterns (IAM wildcards, e.g. `rolled-back/*.mark.json`) and no others."""
    return Grant.of(
        iam.PolicyStatement(actions=list(actions), resources=[bucket.arn_for_objects(p) for p in key_patterns]),
        reason=f"{', '.join(actions)} only on the S3 keys {', '.join(key_patterns)}.",
    )


def kms_use(key: kms.IKey, *, encrypt: bool = False) -> Grant:
    return Grant.of(
        iam.PolicyStatement(actions=[*KMS_DECRYPT, *(KMS_ENCRYPT if encrypt else ())], resources=[key.key_arn])
    )


def ssm_read(stack: Stack, naming: Naming) -> Grant:
    """Read one environment's parameters only (`/<project>/<env>/*`)."""
    return Grant.of(
        iam.PolicyStatement(
            actions=["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"],
            resources=[
                stack.format_arn(service="ssm", resource="parameter", resource_name=f"{naming.project}/{naming.env}/*")
            ],
        ),
        reason=f"SSM parameters of {naming.prefix} only ({naming.parameter_path}*).",
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


def sagemaker_actions(stack: Stack, naming: Naming, actions: Sequence[str], resource_types: Sequence[str]) -> Grant:
    return Grant.of(
        iam.PolicyStatement(actions=list(actions), resources=sagemaker_resources(stack, naming, resource_types)),
        reason=f"SageMaker {', '.join(resource_types)} resources named {naming.prefix}-* only.",
    )


def model_packages(stack: Stack, group: str, actions: Sequence[str]) -> Grant:
    """`actions` on the versions of one model package group (`model-package/<group>/<version>`) and nothing else.

    An environment serves the packages of its chain's origin (prod serves what dev registered and approved), so its
    roles name the origin's group, never a pattern of their own environment's names.
    """
    return Grant.of(
        iam.PolicyStatement(actions=list(actions), resources=[model_package_versions(stack, group)]),
        reason=f"{', '.join(actions)} only on the versions of model package group {group} (their ARNs end in a "
        "version number).",
    )


def model_package_versions(stack: Stack, group: str) -> str:
    return stack.format_arn(
        service="sagemaker",
        resource="model-package",
        resource_name=f"{group}/*",
        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
    )


def colon_arn(stack: Stack, service: str, resource: str, resource_name: str) -> str:
    """`arn:<partition>:<service>:<region>:<account>:<resource>:<resource_name>` (log groups, alarms)."""
    return stack.format_arn(
        service=service, resource=resource, resource_name=resource_name, arn_format=ArnFormat.COLON_RESOURCE_NAME
    )


def log_group_write(stack: Stack, log_group_name_prefix: str) -> Grant:
    return Grant.of(
        iam.PolicyStatement(
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            resources=[colon_arn(stack, "logs", "log-group", f"{log_group_name_prefix}*")],
        ),
        reason=f"Log groups named {log_group_name_prefix}* only.",
    )


def ecr_auth_token() -> Grant:
    """ecr:GetAuthorizationToken: the API has no resource-level permissions, so its resource must be `*`."""
    return Grant.of(
        iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"]),
        reason="ecr:GetAuthorizationToken, which pulling an image needs, accepts no resource but '*'.",
    )


def ecr_pull(repository_arns: Sequence[str]) -> Grant:
    """Pulling images of the given repositories; a pattern among them needs its use's reason (`Grant.because`)."""
    return Grant.of(
        iam.PolicyStatement(
            actions=["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"],
            resources=list(repository_arns),
        )
    )


def put_metric_data(namespaces: Sequence[str], *, condition: str = "StringEquals") -> Grant:
    """cloudwatch:PutMetricData has no resource-level permissions (`*`); a namespace condition narrows it."""
    return Grant.of(
        iam.PolicyStatement(
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],
            conditions={condition: {"cloudwatch:namespace": list(namespaces)}},
        ),
        reason="cloudwatch:PutMetricData accepts no resource but '*'; a condition narrows it to the namespaces "
        f"{', '.join(namespaces)}.",
    )


def describe_alarms(stack: Stack, naming: Naming) -> Grant:
    """Read this environment's alarms (`<project>-<env>-*`), e.g. a deployment's auto-rollback alarms."""
    return Grant.of(
        iam.PolicyStatement(
            actions=["cloudwatch:DescribeAlarms"],
            resources=[colon_arn(stack, "cloudwatch", "alarm", f"{naming.prefix}-*")],
        ),
        reason=f"cloudwatch:DescribeAlarms only on the alarms of {naming.prefix} ({naming.prefix}-*).",
    )


def unscoped(actions: Sequence[str], reason: str) -> Grant:
    """`actions` on `*`, for APIs without resource-level permissions; `reason` names them and says so."""
    return Grant.of(iam.PolicyStatement(actions=list(actions), resources=["*"]), reason=reason)
