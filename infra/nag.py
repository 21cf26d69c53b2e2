"""cdk-nag as a gate on every synth, and the one way to acknowledge a finding: with a specific reason.

Wildcard findings (IAM5) are acknowledged one resource pattern at a time, so a new wildcard added later is a new,
unacknowledged finding that fails synth instead of hiding under an old blanket acknowledgement.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from aws_cdk import Acknowledgment, CfnResource, Stack, Stage, Validations
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

from infra.naming import Naming

MIN_REASON_LENGTH = 20


def enable_security_checks(scope: Stage) -> None:
    """Fail synth on any AwsSolutions finding that is not acknowledged."""
    Validations.of(scope).add_plugins(AwsSolutionsChecks(scope))


def acknowledge(scope: IConstruct, rule: str, reason: str, *, findings: Sequence[str] = ()) -> None:
    """Acknowledge `AwsSolutions-<rule>` on `scope` and below, or only the given granular findings of it."""
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise ValueError(f"cdk-nag acknowledgement of {rule} on {scope.node.path} needs a specific reason")
    ids = [f"AwsSolutions-{rule}[{finding}]" for finding in findings] or [f"AwsSolutions-{rule}"]
    Validations.of(scope).acknowledge(*(Acknowledgment(id=f"AwsSolutions::{id_}", reason=reason) for id_ in ids))


def arn_finding(resource: IConstruct, suffix: str) -> str:
    """The finding cdk-nag reports for `<resource>.Arn` + suffix, e.g. a bucket's objects under one prefix."""
    cfn = resource.node.default_child
    assert isinstance(cfn, CfnResource), f"{resource.node.path} has no CloudFormation resource"
    return f"Resource::<{Stack.of(resource).get_logical_id(cfn)}.Arn>{suffix}"


def imported_bucket_finding(consumer: Stack, bucket: s3.IBucket, suffix: str) -> str:
    """The finding for `bucket`'s ARN + suffix as `consumer`, another stack, imports it.

    Inside one stack cdk-nag prints a reference as `<LogicalId.Arn>` (`arn_finding`); across stacks the reference
    is an Fn::ImportValue and cdk-nag prints the export name, the same one CDK creates here.
    """
    imported = consumer.resolve(Stack.of(bucket).export_value(bucket.bucket_arn))
    return f"Resource::{imported['Fn::ImportValue']}{suffix}"


def sagemaker_findings(stack: Stack, owner: Naming, resource_types: Iterable[str]) -> list[str]:
    """The findings of `iam_role.sagemaker_actions(stack, owner, ..., resource_types)`: `<type>/<owner prefix>-*`."""
    return [
        f"Resource::arn:<AWS::Partition>:sagemaker:{stack.region}:<AWS::AccountId>:{kind}/{owner.prefix}-*"
        for kind in resource_types
    ]
