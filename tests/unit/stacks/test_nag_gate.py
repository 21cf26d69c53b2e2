"""The cdk-nag gate stays a gate: a `*` grant passes only under an acknowledgement that names its exact action."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Environment, Stack, Stage
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from infra import iam_role
from infra.grants import Grant, grant_to
from infra.nag import acknowledge, enable_security_checks, star_resource_actions
from safedeploy.naming import Naming
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


def test_a_grant_acknowledges_exactly_what_the_gate_finds_and_an_unexplained_wildcard_fails_synth(
    tmp_path: Path,
) -> None:
    """Findings derived from the statements match cdk-nag's own (across stacks, tokens, `*` actions and resources):
    the explained grants pass, and the unexplained one is refused with exactly the findings `Grant.findings` names."""
    app = App(outdir=str(tmp_path))
    stage = Stage(app, "T", env=Environment(account="111111111111", region="eu-west-1"))
    enable_security_checks(stage)
    storage, consumer = Stack(stage, "Storage"), Stack(stage, "Consumer")
    bucket = s3.Bucket(storage, "Bucket", enforce_ssl=True)
    acknowledge(bucket, "S1", "a bucket of the test: its access logs are not what is tested")
    naming = Naming("p", "e")
    explained = iam.Role(consumer, "Explained", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    grant_to(
        explained,
        iam_role.s3_objects(bucket, ["records"], write=True),
        iam_role.ssm_read(consumer, naming),
        iam_role.unscoped(["xray:PutTraceSegments"], "X-Ray's PutTraceSegments accepts no resource."),
        Grant.of(
            iam.PolicyStatement(actions=["s3:GetObject*"], resources=[bucket.arn_for_objects("reports/*")]),
            reason="the reports of the test, every version",
        ),
    )
    unexplained = iam.Role(consumer, "Unexplained", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    # The builder's statements without its reason: a wildcard nobody explained.
    wildcard = Grant(
        iam_role.sagemaker_actions(consumer, naming, ["sagemaker:DescribeEndpoint"], ["endpoint"]).statements
    )
    star = Grant.of(iam.PolicyStatement(actions=["iam:PassRole"], resources=["*"]))
    grant_to(unexplained, wildcard, star)

    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    violations = {
        violation["ruleName"]: [construct["constructPath"] for construct in violation["violatingConstructs"]]
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
    }
    expected = [
        *(f"AwsSolutions-IAM5[{finding}]" for grant in (wildcard, star) for finding in grant.findings(consumer).iam5),
        *(f"SafeDeploy-IAMStarResource[Action::{action}]" for action in star.findings(consumer).star_actions),
    ]
    assert expected == [
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:eu-west-1:111111111111:endpoint/p-e-*]",
        "AwsSolutions-IAM5[Resource::*]",
        "SafeDeploy-IAMStarResource[Action::iam:PassRole]",
    ]
    assert violations == {rule: ["T/Consumer/Unexplained/DefaultPolicy/Resource"] for rule in expected}
    assert iam_role.s3_objects(bucket, ["records"]).findings(consumer).iam5 == [
        "Resource::T-Storage:ExportsOutputFnGetAttBucket83908E77Arn063C8555/records/*"
    ]
