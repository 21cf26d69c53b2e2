"""What an approver is asked and where the request reaches them.

CodePipeline resolves variables in a Manual approval's CustomData and link, so the request carries the candidate's
own metrics and package, and the QualityGate's one-line training-serving skew summary; the approver compares them
with the live model's in the QualityGate report of the same run.
"""

from __future__ import annotations

import re

from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_sns as sns
from constructs import Construct

from safedeploy.build_steps.exports import METRICS_TEXT_LIMIT, METRICS_VARIABLE, PACKAGE_VARIABLE
from safedeploy.drift.skew import SUMMARY_LIMIT
from safedeploy.lambda_actions.promotion import COMMIT_MESSAGE_LIMIT
from safedeploy.lambda_actions.quality_gate import SKEW_VARIABLE
from safedeploy.naming import Naming
from stacks.storage_stack import StorageStack

# CodePipeline's limit on a Manual approval's CustomData.
CUSTOM_DATA_LIMIT = 500
# The longest model package version ARN: partition aws-us-gov, a 14-character region, a 63-character group, and a
# 10-digit version.
PACKAGE_ARN_LIMIT = len("arn:aws-us-gov:sagemaker:ap-southeast-5:123456789012:model-package/") + 63 + 1 + 10
# Each variable an approval interpolates, by name, and the longest text it resolves to; each is bounded where it is
# produced (the package ARN by its format, the metrics by the Train export, the skew summary by the QualityGate, the
# commit message by Promote), so a message's length after resolution is known at synth.
RESOLVED_LIMITS = {
    PACKAGE_VARIABLE: PACKAGE_ARN_LIMIT,
    METRICS_VARIABLE: METRICS_TEXT_LIMIT,
    SKEW_VARIABLE: SUMMARY_LIMIT,
    "CommitMessage": COMMIT_MESSAGE_LIMIT,
}
_VARIABLE = re.compile(r"#\{[\w-]+\.(\w+)\}")


def approval_topic(scope: Construct, naming: Naming, storage: StorageStack) -> sns.Topic:
    """Approval requests, encrypted with the environment's key; approvers subscribe to it."""
    return sns.Topic(
        scope,
        "ApprovalTopic",
        topic_name=naming.resource("approvals"),
        display_name=f"{naming.prefix} release approvals",
        master_key=storage.key,
        enforce_ssl=True,
    )


def registry_console_link(region: str, group: str) -> str:
    return f"https://{region}.console.aws.amazon.com/sagemaker/home?region={region}#/model-registry/{group}"


def model_approval_message(train: actions.CodeBuildAction, gate: actions.LambdaInvokeAction, naming: Naming) -> str:
    return _bounded(
        f"Approve model package {train.variable(PACKAGE_VARIABLE)} for {naming.endpoint}? "
        f"Candidate: {train.variable(METRICS_VARIABLE)}. "
        f"Training-serving skew: {gate.variable(SKEW_VARIABLE)}. "
        "The QualityGate report of this run compares it with the live model."
    )


def release_approval_message(naming: Naming, commit_message: str, source_env: str) -> str:
    """The promotion commit's message names the package, its metrics, the dev commit and who approved it there."""
    return _bounded(
        f"Deploy to {naming.endpoint}? {commit_message}. Every claim is checked against {source_env}'s approval "
        "records and digests before any change."
    )


def promotion_approval_message(package_arn: str, target_repository: str) -> str:
    return _bounded(f"Promote {package_arn}, now serving on this environment, by committing it to {target_repository}?")


def resolved_length(text: str) -> int:
    """The message's length once CodePipeline resolves its variables, each at its longest (`RESOLVED_LIMITS`)."""
    length = len(text)
    for variable in _VARIABLE.finditer(text):
        if variable.group(1) not in RESOLVED_LIMITS:
            raise ValueError(f"approval message variable {variable.group(0)} has no known longest value")
        length += RESOLVED_LIMITS[variable.group(1)] - len(variable.group(0))
    return length


def _bounded(text: str) -> str:
    """Refuse at synth a message CodePipeline could refuse once its variables resolve."""
    length = resolved_length(text)
    if length > CUSTOM_DATA_LIMIT:
        raise ValueError(
            f"approval message is {length} characters once its variables resolve at their longest; CodePipeline "
            f"allows {CUSTOM_DATA_LIMIT}"
        )
    return text
