"""Approval texts stay within CodePipeline's 500 characters after their variables resolve, at the worst case.

CodePipeline resolves `#{...}` variables in a Manual approval's CustomData before its 500-character limit applies;
the template alone is shorter than what the approver is sent. Prod's approval shows the promotion commit's message,
which names the package and the two approvers: with IAM Identity Center session ARNs it reached 547 characters.
"""

from __future__ import annotations

import re

import pytest
from aws_cdk.assertions import Template

from safedeploy.lambda_actions.promotion import COMMIT_MESSAGE_LIMIT, commit_message
from safedeploy.trust.release_manifest import ReleaseManifest
from stacks.pipeline.approvals import CUSTOM_DATA_LIMIT, PACKAGE_ARN_LIMIT, RESOLVED_LIMITS, resolved_length
from stacks.stage import EnvironmentStage
from tests.unit.stacks.test_pipeline_stack import only_action

LONGEST_PACKAGE = f"arn:aws-us-gov:sagemaker:ap-southeast-5:123456789012:model-package/{'g' * 63}/{'9' * 10}"
# An IAM Identity Center user's session: a role name of 64 characters and a session name of 64 (RoleSessionName's
# limit), here the user's e-mail address.
SESSION = f"{'u' * 52}@example.com"
SSO_APPROVER = f"arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_{'P' * 32}_{'0' * 16}/{SESSION}"
# An IAM user with a long path.
PATH_APPROVER = f"arn:aws:iam::123456789012:user/{'team/' * 100}{'n' * 64}"


def manifest(approver: str, promoter: str, metrics: int = 3) -> ReleaseManifest:
    return ReleaseManifest(
        model_package_arn=LONGEST_PACKAGE,
        source_commit="c" * 40,
        metrics={f"metric_{index:02d}_{'m' * 20}": 0.123456 for index in range(metrics)},
        approved_by=approver,
        promoted_by=promoter,
        pipeline_execution_id="e" * 36,
        promoted_at="2026-12-07T02:00:00+00:00",
        model_sha256="a" * 64,
        evaluation_sha256="b" * 64,
        tooling_sha256="d" * 64,
    )


def custom_data(stages: dict[str, EnvironmentStage], env: str, stage: str) -> str:
    return only_action(Template.from_stack(stages[env].pipeline), stage)["Configuration"]["CustomData"]


def test_the_package_arn_bound_is_the_longest_version_arn() -> None:
    assert len(LONGEST_PACKAGE) == PACKAGE_ARN_LIMIT


@pytest.mark.parametrize(
    ("approver", "promoter", "metrics"),
    [(SSO_APPROVER, SSO_APPROVER, 3), (PATH_APPROVER, SSO_APPROVER, 3), (SSO_APPROVER, PATH_APPROVER, 40)],
)
def test_prods_approval_fits_once_the_commit_message_resolves(
    stages: dict[str, EnvironmentStage], approver: str, promoter: str, metrics: int
) -> None:
    message = commit_message(manifest(approver, promoter, metrics))
    assert len(message) <= COMMIT_MESSAGE_LIMIT
    assert LONGEST_PACKAGE in message and SESSION in message  # which package, and who approved, stay readable
    resolved = custom_data(stages, "prod", "Approval").replace("#{Source.CommitMessage}", message)
    assert "#{" not in resolved and len(resolved) <= CUSTOM_DATA_LIMIT


def test_the_unbounded_message_would_not_have_fit(stages: dict[str, EnvironmentStage]) -> None:
    """The message as Promote wrote it before, with two Identity Center approvers: over CodePipeline's limit."""
    m = manifest(SSO_APPROVER, SSO_APPROVER)
    metrics = ", ".join(f"{name} {value:.4f}" for name, value in sorted(m.metrics.items()))
    old = f"Promote {m.model_package_arn} ({metrics}; commit {m.source_commit[:12]}; approved by {m.approved_by}, promoted by {m.promoted_by})"  # noqa: E501
    assert len(custom_data(stages, "prod", "Approval").replace("#{Source.CommitMessage}", old)) > CUSTOM_DATA_LIMIT


@pytest.mark.parametrize(("env", "stage"), [("dev", "Approval"), ("dev", "PromoteApproval"), ("prod", "Approval")])
def test_every_approval_fits_with_each_variable_at_its_longest(
    stages: dict[str, EnvironmentStage], env: str, stage: str
) -> None:
    text = custom_data(stages, env, stage)
    worst = re.sub(r"#\{[\w-]+\.(\w+)\}", lambda m: "x" * RESOLVED_LIMITS[m.group(1)], text)
    assert len(worst) == resolved_length(text) <= CUSTOM_DATA_LIMIT


def test_a_variable_without_a_known_longest_value_is_refused() -> None:
    with pytest.raises(ValueError, match=r"#\{Source.AuthorDisplayName\} has no known longest value"):
        resolved_length("Deploy? #{Source.AuthorDisplayName}")
