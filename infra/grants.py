"""Grants that carry their cdk-nag findings: statements plus the reason their wildcards are as narrow as they can be.

In the spirit of aws-cdk's `iam.Grant` and cdk-nag's `appliesTo`: a `Grant` is attached to a role or a policy, and the
findings its statements cause there (AwsSolutions-IAM5 `Action::<a>*` and `Resource::<r>`, and the SafeDeploy pack's
one finding per action on `*`) are derived from those statements the way cdk-nag derives them, then acknowledged with
the grant's own reason. No finding is written by hand, and a wildcard whose grant gives no reason stays unacknowledged:
the cdk-nag gate (`infra.nag.enable_security_checks`) fails synth on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from aws_cdk import Reference, Stack, Tokenization
from aws_cdk import aws_iam as iam
from constructs import IConstruct

from infra.nag import STAR_RESOURCE, Findings, acknowledge, as_list, flatten_reference, wildcard_findings


@dataclass(frozen=True)
class Grant:
    """Policy statements and why their wildcards, if any, are acknowledged (the actions on `*` named in it)."""

    statements: tuple[iam.PolicyStatement, ...]
    reason: str = ""

    @classmethod
    def of(cls, *statements: iam.PolicyStatement, reason: str = "") -> Grant:
        return cls(tuple(statements), reason)

    def because(self, reason: str) -> Grant:
        """The same statements with the reason this use of them gives (replacing the builder's)."""
        return replace(self, reason=reason)

    def findings(self, stack: Stack) -> Findings:
        """What the gate reports for these statements in a policy of `stack`."""
        return wildcard_findings(
            {**statement, "Resource": _resources(stack, statement)}
            for statement in (statement.to_statement_json() for statement in self.statements)
        )


def grant_to(principal: iam.IRole, *grants: Grant, acknowledge_on: IConstruct | None = None) -> None:
    """Add the grants to the role's default policy; acknowledge their findings on the role (or `acknowledge_on`)."""
    for grant in grants:
        for statement in grant.statements:
            principal.add_to_principal_policy(statement)
    _acknowledge(acknowledge_on or principal, grants)


def grant_policy(
    scope: IConstruct,
    construct_id: str,
    role: iam.IRole,
    *grants: Grant,
    acknowledge_on: IConstruct | None = None,
) -> iam.Policy:
    """A policy of its own holding the grants, attached to `role`; findings acknowledged on it (or `acknowledge_on`)."""
    policy = iam.Policy(scope, construct_id, statements=[s for grant in grants for s in grant.statements])
    policy.attach_to_role(role)
    _acknowledge(acknowledge_on or policy, grants)
    return policy


def acknowledge_cdk_grants(
    principal: iam.IRole | iam.Policy,
    reason: str,
    *,
    actions: Sequence[str] | None = None,
    acknowledge_on: IConstruct | None = None,
) -> None:
    """Acknowledge the findings of what CDK itself has granted so far in the role's default policy (or the policy):
    call it right after the construct that grants, since a statement added later is not covered. `actions`: only the
    statements made of these actions (for grants CDK adds beside statements of other origins)."""
    policy = principal if isinstance(principal, iam.Policy) else principal.node.try_find_child("DefaultPolicy")
    assert isinstance(policy, iam.Policy), f"{principal.node.path} has no policy CDK wrote into"
    written = policy.document.to_json()["Statement"]
    if actions is not None:
        written = [statement for statement in written if set(as_list(statement["Action"])) <= set(actions)]
    granted = Grant(tuple(iam.PolicyStatement.from_json(statement) for statement in written), reason)
    _acknowledge(acknowledge_on or principal, [granted])


def _acknowledge(scope: IConstruct, grants: Iterable[Grant]) -> None:
    """A grant without a reason is left to the gate: its wildcards, if any, fail synth."""
    stack = Stack.of(scope)
    for grant in grants:
        if not grant.reason:
            continue
        findings = grant.findings(stack)
        named = [finding for finding in findings.iam5 if finding != STAR_RESOURCE]
        if named or findings.star_actions:
            acknowledge(scope, "IAM5", grant.reason, findings=named, unscoped_actions=findings.star_actions)


def _resources(stack: Stack, statement: Mapping[str, Any]) -> list[str]:
    """Each resource as cdk-nag prints it in `stack`, where CDK turns a reference to another stack's resource into
    an Fn::ImportValue of the export it creates for it (the one `export_value` returns)."""
    return [_finding_text(stack, resource) for resource in as_list(statement.get("Resource"))]


def _finding_text(stack: Stack, resource: Any) -> str:
    text = flatten_reference(stack.resolve(resource))
    if "*" not in text or not isinstance(resource, str):
        return text
    for token in Tokenization.reverse_string(resource).tokens:
        if isinstance(token, Reference) and Stack.of(token.target).node.path != stack.node.path:
            exported = Stack.of(token.target).export_value(token)
            text = text.replace(flatten_reference(stack.resolve(token)), flatten_reference(stack.resolve(exported)))
    return text
