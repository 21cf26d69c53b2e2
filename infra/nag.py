"""cdk-nag as a gate on every synth, and the one way to acknowledge a finding: with a specific reason.

Wildcard findings (IAM5) are acknowledged one resource pattern at a time, so a new wildcard added later is a new,
unacknowledged finding that fails synth instead of hiding under an old blanket acknowledgement. AwsSolutions-IAM5
reports a `*` resource once per policy, whatever the actions on it, so the `SafeDeploy` pack here reports every
action granted on `*` as its own finding: an acknowledgement of a `*` resource names the exact actions it excuses.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import jsii
from aws_cdk import Acknowledgment, CfnResource, Stack, Stage, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks, IApplyRule, NagMessageLevel, NagPack, NagRuleCompliance
from constructs import IConstruct

from infra.naming import Naming

MIN_REASON_LENGTH = 20
PACK = "SafeDeploy"
STAR_RULE = "IAMStarResource"
STAR_RESOURCE = "Resource::*"


def enable_security_checks(scope: Stage) -> None:
    """Fail synth on any AwsSolutions or SafeDeploy finding that is not acknowledged."""
    Validations.of(scope).add_plugins(AwsSolutionsChecks(scope), SafeDeployChecks(scope))


def acknowledge(
    scope: IConstruct, rule: str, reason: str, *, findings: Sequence[str] = (), unscoped_actions: Sequence[str] = ()
) -> None:
    """Acknowledge `AwsSolutions-<rule>` on `scope` and below, or only the given granular findings of it.

    `unscoped_actions`: the exact actions granted on `*` that the reason excuses (IAM5 only); a `Resource::*`
    finding cannot be acknowledged any other way.
    """
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise ValueError(f"cdk-nag acknowledgement of {rule} on {scope.node.path} needs a specific reason")
    if STAR_RESOURCE in findings:
        raise ValueError(
            f"cdk-nag acknowledgement on {scope.node.path}: name the actions granted on '*' (unscoped_actions), "
            f"not {STAR_RESOURCE}"
        )
    if unscoped_actions and rule != "IAM5":
        raise ValueError(f"unscoped_actions acknowledge IAM5 findings, not {rule}")
    ids = [f"AwsSolutions-{rule}[{finding}]" for finding in findings]
    if not findings and not unscoped_actions:
        ids = [f"AwsSolutions-{rule}"]  # the whole rule: only for rules without granular findings
    acknowledgements = [Acknowledgment(id=f"AwsSolutions::{id_}", reason=reason) for id_ in ids]
    if unscoped_actions:
        acknowledgements.append(Acknowledgment(id=f"AwsSolutions::AwsSolutions-IAM5[{STAR_RESOURCE}]", reason=reason))
        acknowledgements += [
            Acknowledgment(id=f"{PACK}::{PACK}-{STAR_RULE}[Action::{action}]", reason=reason)
            for action in unscoped_actions
        ]
    Validations.of(scope).acknowledge(*acknowledgements)


def star_resource_actions(node: CfnResource) -> list[str] | None:
    """The actions an IAM policy or role allows on `*`, as `Action::<action>` findings; None when not IAM."""
    stack = Stack.of(node)
    if isinstance(node, iam.CfnPolicy | iam.CfnManagedPolicy):
        documents = [stack.resolve(node.policy_document)]
    elif isinstance(node, iam.CfnRole):
        inline = stack.resolve(node.policies) or []
        documents = [stack.resolve(policy).get("policyDocument") for policy in inline]
    else:
        return None
    findings: set[str] = set()
    for document in filter(None, documents):
        for statement in document.get("Statement", []):
            if statement.get("Effect") == "Allow" and "*" in _as_list(statement.get("Resource")):
                findings.update(f"Action::{action}" for action in _as_list(statement.get("Action")))
    return sorted(findings)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@jsii.implements(IApplyRule)
class _StarResourceRule:
    """One application of the rule to one resource (cdk-nag's rule-callback interface)."""

    def __init__(self, node: CfnResource) -> None:
        self._node = node

    @property
    def node(self) -> CfnResource:
        return self._node

    @property
    def rule_suffix_override(self) -> str:
        return STAR_RULE

    @property
    def info(self) -> str:
        return "The IAM policy grants an action on '*'; acknowledge it by naming the action and why no ARN fits."

    @property
    def explanation(self) -> str:
        return "A '*' resource acknowledged once would excuse every action added on it later."

    @property
    def level(self) -> NagMessageLevel:
        return NagMessageLevel.ERROR

    def rule(self, node: CfnResource) -> NagRuleCompliance | list[str]:
        findings = star_resource_actions(node)
        if findings is None:
            return NagRuleCompliance.NOT_APPLICABLE
        return findings or NagRuleCompliance.COMPLIANT


class SafeDeployChecks(NagPack):
    """The platform's own rules beside AwsSolutions: today, every action on `*` is a finding of its own."""

    def __init__(self, scope: IConstruct) -> None:
        super().__init__(scope)
        self._pack_name = PACK

    @property
    def name(self) -> str:
        return PACK

    def _check_resource(self, node: CfnResource) -> None:
        self._apply_rule(_StarResourceRule(node))


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


def model_package_findings(stack: Stack, group: str) -> list[str]:
    """The finding of `iam_role.model_packages(stack, group, ...)`: the versions of that one group."""
    return [f"Resource::arn:<AWS::Partition>:sagemaker:{stack.region}:<AWS::AccountId>:model-package/{group}/*"]


def sagemaker_findings(stack: Stack, owner: Naming, resource_types: Iterable[str]) -> list[str]:
    """The findings of `iam_role.sagemaker_actions(stack, owner, ..., resource_types)`: `<type>/<owner prefix>-*`."""
    return [
        f"Resource::arn:<AWS::Partition>:sagemaker:{stack.region}:<AWS::AccountId>:{kind}/{owner.prefix}-*"
        for kind in resource_types
    ]
