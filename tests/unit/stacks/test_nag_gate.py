"""The cdk-nag gate stays a gate: a `*` grant passes only under an acknowledgement that names its exact action."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_iam as iam

from infra.nag import acknowledge, star_resource_actions
from stacks.stage import EnvironmentStage
from tests.unit.stacks.conftest import gate_violations


def test_new_wildcard_grants_on_an_acknowledged_role_fail_synth(
    cdk_context: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The QualityGate role already holds acknowledged `*` grants (X-Ray, job results, ListModelPackages)."""

    def with_wildcard_grants(stage: EnvironmentStage) -> None:
        assert stage.pipeline.functions is not None
        stage.pipeline.functions.quality_gate.role.add_to_policy(
            iam.PolicyStatement(actions=["iam:PassRole", "sagemaker:UpdateModelPackage"], resources=["*"])
        )

    violations = gate_violations(cdk_context, tmp_path, monkeypatch, with_wildcard_grants)
    policy = "my-mlops-dev/pipeline/ReleaseFunctions/QualityGate/Role/DefaultPolicy/Resource"
    assert set(violations) == {
        "SafeDeploy-IAMStarResource[Action::iam:PassRole]",
        "SafeDeploy-IAMStarResource[Action::sagemaker:UpdateModelPackage]",
    }
    assert all(paths == [policy] for paths in violations.values())


def test_a_star_resource_is_acknowledged_only_by_naming_actions() -> None:
    stack = Stack(App(), "S")
    with pytest.raises(ValueError, match="name the actions granted on '\\*'"):
        acknowledge(stack, "IAM5", "a long enough reason for the test", findings=["Resource::*"])
    with pytest.raises(ValueError, match="unscoped_actions acknowledge IAM5"):
        acknowledge(stack, "S1", "a long enough reason for the test", unscoped_actions=["s3:GetObject"])


def test_every_action_on_star_is_its_own_finding_and_denies_are_not() -> None:
    stack = Stack(App(), "S")
    policy = iam.Policy(
        stack,
        "P",
        statements=[
            iam.PolicyStatement(actions=["ecr:GetAuthorizationToken", "xray:PutTraceSegments"], resources=["*"]),
            iam.PolicyStatement(actions=["s3:GetObject"], resources=["arn:aws:s3:::bucket/*"]),
            iam.PolicyStatement(effect=iam.Effect.DENY, actions=["s3:DeleteObject"], resources=["*"]),
        ],
    )
    cfn = policy.node.default_child
    assert isinstance(cfn, iam.CfnPolicy)
    assert star_resource_actions(cfn) == ["Action::ecr:GetAuthorizationToken", "Action::xray:PutTraceSegments"]
    inline = iam.PolicyDocument(statements=[iam.PolicyStatement(actions=["iam:PassRole"], resources=["*"])])
    role = iam.Role(stack, "R", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), inline_policies={"p": inline})
    cfn_role = role.node.default_child
    assert isinstance(cfn_role, iam.CfnRole)
    assert star_resource_actions(cfn_role) == ["Action::iam:PassRole"]
