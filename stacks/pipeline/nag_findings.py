"""cdk-nag finding ids for wildcards under another stack's resource.

`infra.nag.arn_finding` names a resource as `<LogicalId.Arn>`, which is how cdk-nag prints a reference inside one
stack. A reference to the storage stack is an import in this stack's template, and cdk-nag prints the export name.
"""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import Stack
from aws_cdk import aws_s3 as s3

from infra.naming import Naming


def imported_bucket_finding(consumer: Stack, bucket: s3.IBucket, suffix: str) -> str:
    """`Resource::<export name><suffix>` for `bucket`'s ARN as `consumer` imports it (the same export CDK creates)."""
    imported = consumer.resolve(Stack.of(bucket).export_value(bucket.bucket_arn))
    return f"Resource::{imported['Fn::ImportValue']}{suffix}"


def sagemaker_findings(stack: Stack, owner: Naming, resource_types: Iterable[str]) -> list[str]:
    """The findings of `iam_role.sagemaker_actions(stack, owner, ..., resource_types)`: `<type>/<owner prefix>-*`."""
    return [
        f"Resource::arn:<AWS::Partition>:sagemaker:{stack.region}:<AWS::AccountId>:{kind}/{owner.prefix}-*"
        for kind in resource_types
    ]
