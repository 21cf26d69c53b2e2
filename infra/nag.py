"""cdk-nag as a gate on every synth, and the one way to acknowledge a finding: with a specific reason.

Wildcard findings (IAM5) are acknowledged one resource pattern at a time, so a new wildcard added later is a new,
unacknowledged finding that fails synth instead of hiding under an old blanket acknowledgement. AwsSolutions-IAM5
reports a `*` resource once per policy, whatever the actions on it, so the `SafeDeploy` pack here reports every
action granted on `*` as its own finding: an acknowledgement of a `*` resource names the exact actions it excuses.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import jsii
from aws_cdk import Acknowledgment, CfnResource, Stack, Stage, Validations
from aws_cdk import aws_iam as iam
from cdk_nag import AwsSolutionsChecks, IApplyRule, NagMessageLevel, NagPack, NagRuleCompliance
from constructs import IConstruct

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


class Findings(NamedTuple):
    """What the gate reports for some policy statements: AwsSolutions-IAM5's findings (`Action::<action with *>`,
    `Resource::<resource with *>`, as cdk-nag's `appliesTo`) and the actions allowed on `*` (one SafeDeploy finding
    each)."""

    iam5: list[str]
    star_actions: list[str]


def wildcard_findings(statements: Iterable[Mapping[str, Any]]) -> Findings:
    """cdk-nag v3's AwsSolutions-IAM5 (rules/iam/IAMNoWildcardPermissions.ts) on CloudFormation statements: every
    allowed action and every allowed resource, as `flatten_reference` prints it, that contains `*`; denies are not
    reported. Beside it, the SafeDeploy pack's actions allowed on `*`."""
    iam5: dict[str, None] = {}
    star_actions: set[str] = set()
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        actions = as_list(statement.get("Action"))
        resources = [flatten_reference(resource) for resource in as_list(statement.get("Resource"))]
        iam5.update((f"Action::{action}", None) for action in actions if "*" in action)
        iam5.update((f"Resource::{resource}", None) for resource in resources if "*" in resource)
        if "*" in resources:
            star_actions.update(actions)
    return Findings(list(iam5), sorted(star_actions))


def flatten_reference(node: Any) -> str:
    """A resource as cdk-nag names it in a finding (utils/flatten-cfn-reference.ts): `${X}` -> `<X>`, `Ref` ->
    `<X>`, `Fn::GetAtt` -> `<X.Attr>`, `Fn::ImportValue` -> the export's name, `Fn::Join` joined; anything else as
    JSON."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node.replace("${", "<").replace("}", ">")
    if isinstance(node, dict):
        if node.get("Fn::Join"):
            delimiter, items = node["Fn::Join"]
            return delimiter.join(flatten_reference(item) for item in items)
        if node.get("Fn::Sub"):
            return flatten_reference(node["Fn::Sub"])
        if node.get("Fn::GetAtt"):
            resource, attribute = node["Fn::GetAtt"]
            return f"<{flatten_reference(resource)}.{flatten_reference(attribute)}>"
        if node.get("Fn::ImportValue"):
            return flatten_reference(node["Fn::ImportValue"])
        if node.get("Ref"):
            return f"<{flatten_reference(node['Ref'])}>"
    return json.dumps(node, separators=(",", ":"))


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
    statements = [statement for document in filter(None, documents) for statement in document.get("Statement", [])]
    return [f"Action::{action}" for action in wildcard_findings(statements).star_actions]


def as_list(value: Any) -> list[Any]:
    """A policy element that may be one value or a list of them, as a list."""
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
