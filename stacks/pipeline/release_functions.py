"""The pipeline's Lambda actions (QualityGate, ApprovalSync, Promote), each with a policy for exactly its calls.

A training environment has all three (Promote when it promotes); an environment in the middle of a chain has only
Promote, which forwards the release it deployed: it reads its own repository's release.json and the origin's
registry instead of its own packages and evaluation reports.

The handlers report to CodePipeline themselves; CDK's LambdaInvokeAction grants them PutJobSuccessResult and
PutJobFailureResult. What is granted here is what `safedeploy.lambda_actions` calls on their behalf.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Stack
from constructs import Construct

from infra import iam_role
from infra.grants import Grant, acknowledge_cdk_grants, grant_policy
from infra.log_encryption import LogGroupKey
from infra.runtime_function import RuntimeFunction, RuntimeLayer
from safedeploy.environment_config import EnvironmentConfig
from safedeploy.lambda_actions.approvals import PIPELINE_NAME_ENV
from safedeploy.lambda_actions.quality_gate import SKEW_BUCKET_ENV, SKEW_ENDPOINT_ENV, SKEW_HISTOGRAMS_ENV
from safedeploy.naming import Function, Naming
from safedeploy.s3_layout import BASELINE_OBJECTS, ROLLED_BACK, histograms_root
from safedeploy.trust.approval_record import (
    MODEL_DECISION,
    PACKAGE_GROUP_ENV,
    PROMOTION_DECISION,
    RECORDS_BUCKET_ENV,
    RECORDS_KEY_ENV,
)
from stacks.pipeline import permissions
from stacks.pipeline.promotion import PromotionLinks, repository_name
from stacks.storage_stack import StorageStack

# Where the training step writes the evaluation report a model package's metrics point to.
METRICS_PREFIXES = ("evaluation",)
# What CDK's LambdaInvokeAction grants the function on `*`.
JOB_RESULT_ACTIONS = ("codepipeline:PutJobSuccessResult", "codepipeline:PutJobFailureResult")


class ReleaseFunctions(Construct):
    """`quality_gate` and `approval_sync` where the environment trains; `promote` where it promotes."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        naming: Naming,
        env_config: EnvironmentConfig,
        storage: StorageStack,
        pipeline_name: str,
        links: PromotionLinks,
        log_key: LogGroupKey,
        approvals: Mapping[str, str],
    ) -> None:
        """`approvals`: the stage and action names of this pipeline's approvals, as the functions' environment
        (`APPROVAL_STAGE`, `APPROVAL_ACTION`, `PROMOTION_APPROVAL_STAGE`, `PROMOTION_APPROVAL_ACTION`)."""
        super().__init__(scope, construct_id)
        self._naming = naming
        self._log_key = log_key
        self._layer = RuntimeLayer(self, "Runtime")
        stack = Stack.of(self)
        # Packages live in the registry of the chain's origin (the environment itself when it trains).
        owner = Naming(naming.project, links.origin.name)
        registry = iam_role.model_packages(stack, owner.model_package_group, ["sagemaker:DescribeModelPackage"])
        metrics = [iam_role.s3_objects(storage.artifacts_bucket, METRICS_PREFIXES), iam_role.kms_use(storage.key)]
        records_environment = {
            RECORDS_BUCKET_ENV: storage.artifacts_bucket.bucket_name,
            RECORDS_KEY_ENV: storage.key.key_arn,
            PACKAGE_GROUP_ENV: naming.model_package_group,
            PIPELINE_NAME_ENV: pipeline_name,
            "APPROVAL_STAGE": approvals["APPROVAL_STAGE"],
            "APPROVAL_ACTION": approvals["APPROVAL_ACTION"],
        }

        self.quality_gate: RuntimeFunction | None = None
        self.approval_sync: RuntimeFunction | None = None
        if links.trains:
            histograms, baselines = histograms_root(naming.endpoint).rstrip("/"), BASELINE_OBJECTS
            skew_reads = [
                iam_role.s3_objects(storage.drift_bucket, [histograms]),
                iam_role.s3_keys(storage.artifacts_bucket, [baselines], ["s3:GetObject"]).because(
                    f"Training-serving skew reads the drift baselines ({baselines}) only."
                ),
            ]
            self.quality_gate = self._function(
                "QualityGate",
                Function.QUALITY_GATE,
                "Candidate model package against the configured thresholds and the live model's metrics",
                [registry, permissions.list_model_packages(), *metrics, *skew_reads],
                environment={
                    SKEW_BUCKET_ENV: storage.artifacts_bucket.bucket_name,
                    SKEW_HISTOGRAMS_ENV: storage.drift_bucket.bucket_name,
                    SKEW_ENDPOINT_ENV: naming.endpoint,
                },
            )
            self.approval_sync = self._function(
                "ApprovalSync",
                Function.APPROVAL_SYNC,
                "Copies the approver's decision in the pipeline onto the model package",
                [
                    permissions.read_action_executions(stack, pipeline_name),
                    registry,
                    permissions.record_decisions(stack, naming),
                    *permissions.write_records(storage.artifacts_bucket, MODEL_DECISION),
                    iam_role.kms_use(storage.key, encrypt=True),
                ],
                environment=records_environment,
            )
        self.promote: RuntimeFunction | None = None
        if links.target is not None:
            release_repository = repository_name(naming.project, links.target.name)
            reads = [
                # A rolled-back mark (a record under this environment's rolled-back/) stops a promotion.
                iam_role.s3_list(storage.artifacts_bucket, [ROLLED_BACK]),
                *(
                    metrics
                    if links.trains
                    else [permissions.read_release(stack, repository_name(naming.project, naming.env))]
                ),
            ]
            self.promote = self._function(
                "Promote",
                Function.PROMOTE,
                f"Commits release.json naming the approved package to {release_repository}",
                [
                    permissions.read_action_executions(stack, pipeline_name),
                    permissions.commit_release(stack, release_repository),
                    registry,
                    *reads,
                    *permissions.write_records(storage.artifacts_bucket, PROMOTION_DECISION),
                    iam_role.kms_use(storage.key, encrypt=True),
                ],
                environment={
                    "RELEASE_REPOSITORY": release_repository,
                    "RELEASE_BRANCH": links.target.pipeline.branch,
                    **records_environment,
                    "PROMOTION_APPROVAL_STAGE": approvals["PROMOTION_APPROVAL_STAGE"],
                    "PROMOTION_APPROVAL_ACTION": approvals["PROMOTION_APPROVAL_ACTION"],
                },
            )

    @property
    def all(self) -> list[RuntimeFunction]:
        return [function for function in (self.quality_gate, self.approval_sync, self.promote) if function]

    def _function(
        self,
        construct_id: str,
        name: Function,
        description: str,
        grants: Sequence[Grant],
        *,
        environment: dict[str, str] | None = None,
    ) -> RuntimeFunction:
        function = RuntimeFunction(
            self,
            construct_id,
            naming=self._naming,
            function=name,
            layer=self._layer,
            description=description,
            environment=environment,
            log_key=self._log_key,
        )
        grant_policy(self, f"{construct_id}Permissions", function.role, *grants)
        return function

    def acknowledge_job_results(self) -> None:
        """Once the functions are actions of the pipeline: CDK's LambdaInvokeAction grants each the job results."""
        for function in self.all:
            acknowledge_cdk_grants(
                function.role,
                "A Lambda pipeline action reports its result to CodePipeline; the job result APIs accept no resource.",
                actions=JOB_RESULT_ACTIONS,
            )
