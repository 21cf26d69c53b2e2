"""The release pipeline of one environment: its source (a CodeCommit repository, or a GitHub/GitLab/Bitbucket
repository through CodeConnections, `pipeline.source`) and a CodePipeline V2 (QUEUED) on it.

An environment that trains (dev) runs Source -> Train -> QualityGate -> Approval -> ApprovalSync -> Deploy and, when it
promotes, PromoteApproval -> Promote, which commits `release.json` to the next environment's repository. Every later
environment of the chain (staging, prod) never retrains: Source (its repository's release.json; the origin's
approved deploy tooling, verified by hash; `pipeline/release_buildspec.py`, never a branch head of dev's repository)
-> Approval -> Deploy of the very package dev approved, and, when it promotes on, PromoteApproval -> Promote,
forwarding that release.json.

Pipeline artifacts go to the storage stack's artifacts bucket (KMS, versioned, access-logged) rather than a bucket of
their own: a second bucket here would be stateful outside the storage stack, and its access logging would make the
storage stack's log bucket policy reference this stack, a dependency cycle.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codecommit as codecommit
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra import iam_role
from infra.config import removal_policy
from infra.grants import Grant, acknowledge_cdk_grants
from infra.log_encryption import LogGroupKey
from infra.runtime_function import RuntimeFunction
from safedeploy.environment_config import CodeCommitSource, ConnectionSource, EnvironmentConfig
from safedeploy.naming import Naming
from safedeploy.parameters import Param
from safedeploy.s3_layout import APPROVALS, EVALUATION, MODELS, PIPELINES, ROLLED_BACK, TOOLING
from safedeploy.write_once import ROLLED_BACK_MARKS
from stacks.pipeline import approvals, permissions
from stacks.pipeline.build_project import PipelineBuildProject
from stacks.pipeline.promotion import PromotionLinks, links_from_context, repository_name
from stacks.pipeline.release_buildspec import release_buildspec
from stacks.pipeline.release_functions import ReleaseFunctions
from stacks.pipeline.source import PipelineSource, SourceAction, grant_connection_use
from stacks.storage_stack import StorageStack

TRAIN_BUILDSPEC = "buildspec-dev.yml"
DEPLOY_BUILDSPEC = "buildspec-deploy.yml"
# Artifact names double as CodeBuild's secondary-source variables (CODEBUILD_SRC_DIR_<name>) in the deploy build.
CODE_ARTIFACT = "Code"
RELEASE_ARTIFACT = "ReleaseManifest"
# Variable namespaces; they must differ from every artifact name.
SOURCE_NAMESPACE = "Source"
TRAIN_NAMESPACE = "Train"
GATE_NAMESPACE = "QualityGate"
APPROVAL_STAGE, APPROVAL_ACTION = "Approval", "ApproveModel"
RELEASE_APPROVAL_ACTION = "ApproveRelease"
PROMOTION_STAGE, PROMOTION_ACTION = "PromoteApproval", "ApprovePromotion"
TRAIN_TIMEOUT = Duration.hours(2)
# A guarded deployment may run up to 4 hours (max execution time) before SageMaker finishes or rolls back.
DEPLOY_TIMEOUT = Duration.hours(5)

TRAIN_SAGEMAKER_ACTIONS = (
    "sagemaker:CreateTrainingJob",
    "sagemaker:DescribeTrainingJob",
    "sagemaker:StopTrainingJob",
    "sagemaker:CreateProcessingJob",
    "sagemaker:DescribeProcessingJob",
    "sagemaker:StopProcessingJob",
    "sagemaker:DescribeModelPackage",
    "sagemaker:DescribeModelPackageGroup",
)
TRAIN_ARTIFACT_PREFIXES = (MODELS, EVALUATION, PIPELINES, TOOLING)
# What a release environment's Deploy reads of its chain's origin: records, artifacts it hashes, tooling it runs.
RELEASE_SOURCE_READS = (APPROVALS, MODELS, EVALUATION, TOOLING)
# Where a release environment's Deploy keeps its verified copies (`models/promoted/...`, `evaluation/promoted/...`).
RELEASE_COPY_PREFIXES = (MODELS, EVALUATION)
TRAIN_SAGEMAKER_RESOURCES = ("training-job", "processing-job", "model-package", "model-package-group")
SM_PIPELINE_ACTIONS = (
    "sagemaker:CreatePipeline",
    "sagemaker:UpdatePipeline",
    "sagemaker:DescribePipeline",
    "sagemaker:StartPipelineExecution",
    "sagemaker:DescribePipelineExecution",
    "sagemaker:ListPipelineExecutionSteps",
    "sagemaker:StopPipelineExecution",
)
DEPLOY_SAGEMAKER_ACTIONS = (
    "sagemaker:CreateModel",
    "sagemaker:DescribeModel",
    "sagemaker:CreateEndpointConfig",
    "sagemaker:DescribeEndpointConfig",
    "sagemaker:CreateEndpoint",
    "sagemaker:UpdateEndpoint",
    "sagemaker:DescribeEndpoint",
    "sagemaker:InvokeEndpoint",
    # Endpoint autoscaling's prerequisites: Application Auto Scaling checks the caller may resize the variant.
    "sagemaker:UpdateEndpointWeightsAndCapacities",
    "sagemaker:AddTags",
    "sagemaker:ListTags",
)
DEPLOY_SAGEMAKER_RESOURCES = ("model", "endpoint-config", "endpoint")
# Deploy reads what it verifies (the artifact, its evaluation, the approval record) and writes none of it.
DEPLOY_READ_PREFIXES = (MODELS, EVALUATION, APPROVALS)
# The package a deploy checks. Its rolled-back mark is a record under this environment's rolled-back/ prefix
# (`rolled_back_marks`), which the deploy lists and writes after an auto-rollback; only an operator clears one.
PACKAGE_ACTIONS = ("sagemaker:DescribeModelPackage",)


def rolled_back_marks(storage: StorageStack) -> list[Grant]:
    """A deploy lists this environment's rolled-back marks and writes new marks (never replaces one). Overrides and
    clearings are the operator's: not granted here, and denied to every role of the project by the bucket policy."""
    return [
        iam_role.s3_list(storage.artifacts_bucket, [ROLLED_BACK]),
        iam_role.s3_keys(storage.artifacts_bucket, [ROLLED_BACK_MARKS], ["s3:PutObject"]),
    ]


class PipelineStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        naming: Naming,
        env_config: EnvironmentConfig,
        storage: StorageStack,
        model_metrics: Mapping[str, float],
        **kwargs: object,
    ) -> None:
        """`model_metrics`: `model.metrics` of cdk.json, the minimums the QualityGate checks unless the environment's
        `quality_gate` sets its own."""
        super().__init__(scope, construct_id, termination_protection=env_config.termination_protection, **kwargs)
        self.model_metrics = dict(model_metrics)
        self.naming = naming
        self.env_config = env_config
        self.storage = storage
        self.log_key = LogGroupKey(self, "LogKey", naming=naming, env_config=env_config, purpose="pipeline")
        self.links: PromotionLinks = links_from_context(self, naming.project, env_config)
        self.pipeline_name = naming.pipeline

        self.repository: codecommit.Repository | None = None
        if isinstance(env_config.pipeline.source, CodeCommitSource):
            self.repository = codecommit.Repository(
                self,
                "Repository",
                repository_name=repository_name(naming.project, naming.env),
                description=f"Model code of {naming.prefix}"
                if self.links.trains
                else f"release.json deployed by {naming.prefix}",
            )
            self.repository.apply_removal_policy(removal_policy(env_config))
        self.approval_topic = approvals.approval_topic(self, naming, storage)
        self.deploy = self._deploy_project()
        self.train: PipelineBuildProject | None = None
        self.functions: ReleaseFunctions | None = None
        self.pipeline = codepipeline.Pipeline(
            self,
            "Pipeline",
            pipeline_name=self.pipeline_name,
            pipeline_type=codepipeline.PipelineType.V2,
            execution_mode=codepipeline.ExecutionMode.QUEUED,
            artifact_bucket=storage.pipeline_bucket,
            use_pipeline_role_for_actions=True,
            restart_execution_on_update=False,
        )
        if self.links.trains:
            self._training_stages()
        else:
            self._release_stages()
        self._acknowledge_cdk_grants()
        self._outputs()

    def _outputs(self) -> None:
        """What a new user needs after `cdk deploy`: where to push, who approves, where the pipeline is."""
        what = "model code" if self.links.trains else "release.json (written by Promote)"
        if self.repository is not None:  # a CodeConnections source lives on its provider, cloned from there
            CfnOutput(
                self,
                "RepositoryCloneUrl",
                value=self.repository.repository_clone_url_grc,
                description=f"git clone URL of the {what} repository (git-remote-codecommit; HTTPS: RepositoryHttpUrl)",
            )
            CfnOutput(self, "RepositoryHttpUrl", value=self.repository.repository_clone_url_http)
        CfnOutput(
            self,
            "ApprovalTopicArn",
            value=self.approval_topic.topic_arn,
            description="Approval requests: subscribe approvers (aws sns subscribe --protocol email ...)",
        )
        CfnOutput(
            self,
            "PipelineUrl",
            value=f"https://{self.region}.console.aws.amazon.com/codesuite/codepipeline/pipelines/"
            f"{self.pipeline_name}/view?region={self.region}",
            description="The release pipeline in the console (approve or reject there)",
        )

    # --- stages -------------------------------------------------------------------------------------------------

    def _source_action(
        self, action_name: str, source: PipelineSource, output: str, *, trigger: bool
    ) -> tuple[SourceAction, codepipeline.Artifact]:
        artifact = codepipeline.Artifact(output)
        action = source.action(
            self, action_name, artifact, trigger=trigger, variables_namespace=SOURCE_NAMESPACE if trigger else None
        )
        if isinstance(source.env_config.pipeline.source, ConnectionSource):
            grant_connection_use(self, self.pipeline.role, source.env_config.pipeline.source)
        return action, artifact

    def _training_stages(self) -> None:
        kind = self.env_config.pipeline.source
        source, code = self._source_action(
            "CodeCommit" if isinstance(kind, CodeCommitSource) else kind.provider,
            PipelineSource(self.env_config, self.repository),
            CODE_ARTIFACT,
            trigger=True,
        )
        self.train = self._train_project()
        train = actions.CodeBuildAction(
            action_name="TrainAndRegister",
            project=self.train.project,
            input=code,
            variables_namespace=TRAIN_NAMESPACE,
        )
        package_arn = train.variable(approvals.PACKAGE_VARIABLE)
        functions = self._release_functions(APPROVAL_ACTION)
        assert functions.quality_gate is not None and functions.approval_sync is not None
        execution = {"pipeline_execution_id": codepipeline.GlobalVariables.EXECUTION_ID}
        gate = actions.LambdaInvokeAction(
            action_name="CheckMetrics",
            lambda_=functions.quality_gate.function,
            user_parameters={
                "model_package_arn": package_arn,
                "thresholds": self.env_config.quality_gate.thresholds(self.model_metrics),
                "skew": self.env_config.drift.skew_parameters(),
            },
            variables_namespace=GATE_NAMESPACE,
        )
        stages: list[tuple[str, codepipeline.IAction]] = [
            ("Source", source),
            ("Train", train),
            ("QualityGate", gate),
            (
                APPROVAL_STAGE,
                actions.ManualApprovalAction(
                    action_name=APPROVAL_ACTION,
                    notification_topic=self.approval_topic,
                    additional_information=approvals.model_approval_message(train, gate, self.naming),
                    external_entity_link=approvals.registry_console_link(self.region, self.naming.model_package_group),
                ),
            ),
            (
                "ApprovalSync",
                actions.LambdaInvokeAction(
                    action_name="RecordApproval",
                    lambda_=functions.approval_sync.function,
                    user_parameters={"model_package_arn": package_arn, **execution},
                ),
            ),
            ("Deploy", self._deploy_action(code, {"MODEL_PACKAGE_ARN": package_arn})),
            *self._promotion_stages(
                package_arn,
                {"model_package_arn": package_arn, "source_commit": source.variables.commit_id, **execution},
            ),
        ]
        for stage_name, action in stages:
            self.pipeline.add_stage(stage_name=stage_name, actions=[action])
        self._sync_rejections(functions.approval_sync)

    def _release_stages(self) -> None:
        """Deploy the package named in release.json with the origin's tooling; forward it when this one promotes."""
        release, manifest = self._source_action(
            "Release", PipelineSource(self.env_config, self.repository), RELEASE_ARTIFACT, trigger=True
        )
        stages: list[tuple[str, list[codepipeline.IAction]]] = [
            ("Source", [release]),
            (
                APPROVAL_STAGE,
                [
                    actions.ManualApprovalAction(
                        action_name=RELEASE_APPROVAL_ACTION,
                        notification_topic=self.approval_topic,
                        additional_information=approvals.release_approval_message(
                            self.naming, release.variables.commit_message, self.links.origin.name
                        ),
                    )
                ],
            ),
            # The gate refuses a downgrade unless this commit's message (shown in the approval) says DOWNGRADE.
            ("Deploy", [self._deploy_action(manifest, {"RELEASE_COMMIT_MESSAGE": release.variables.commit_message})]),
        ]
        if self.links.target is not None:
            self._release_functions(RELEASE_APPROVAL_ACTION)
            forward = {
                "release_repository": repository_name(self.naming.project, self.naming.env),
                "release_commit": release.variables.commit_id,
                "pipeline_execution_id": codepipeline.GlobalVariables.EXECUTION_ID,
            }
            promotion = self._promotion_stages(f"the package of release.json {release.variables.commit_id}", forward)
            stages += [(name, [action]) for name, action in promotion]
        for stage_name, stage_actions in stages:
            self.pipeline.add_stage(stage_name=stage_name, actions=stage_actions)

    def _release_functions(self, first_approval_action: str) -> ReleaseFunctions:
        """The functions, told which approvals of this pipeline they read: the invocation never names them."""
        self.functions = ReleaseFunctions(
            self,
            "ReleaseFunctions",
            naming=self.naming,
            env_config=self.env_config,
            storage=self.storage,
            pipeline_name=self.pipeline_name,
            links=self.links,
            log_key=self.log_key,
            approvals={
                "APPROVAL_STAGE": APPROVAL_STAGE,
                "APPROVAL_ACTION": first_approval_action,
                "PROMOTION_APPROVAL_STAGE": PROMOTION_STAGE,
                "PROMOTION_APPROVAL_ACTION": PROMOTION_ACTION,
            },
        )
        return self.functions

    def _promotion_stages(self, package: str, parameters: dict[str, str]) -> list[tuple[str, codepipeline.IAction]]:
        """PromoteApproval -> Promote, committing release.json to the next environment's repository."""
        target = self.links.target
        if target is None or self.functions is None or self.functions.promote is None:
            return []
        target_repository = repository_name(self.naming.project, target.name)
        return [
            (
                PROMOTION_STAGE,
                actions.ManualApprovalAction(
                    action_name=PROMOTION_ACTION,
                    notification_topic=self.approval_topic,
                    additional_information=approvals.promotion_approval_message(package, target_repository),
                ),
            ),
            (
                "Promote",
                actions.LambdaInvokeAction(
                    action_name="CommitRelease",
                    lambda_=self.functions.promote.function,
                    user_parameters=parameters,
                ),
            ),
        ]

    def _deploy_action(
        self,
        code: codepipeline.Artifact,
        variables: dict[str, str],
        *,
        extra_inputs: list[codepipeline.Artifact] | None = None,
    ) -> actions.CodeBuildAction:
        return actions.CodeBuildAction(
            action_name="DeployWithGuardrails",
            project=self.deploy.project,
            input=code,
            extra_inputs=extra_inputs,
            environment_variables={
                name: codebuild.BuildEnvironmentVariable(value=value) for name, value in variables.items()
            }
            or None,
        )

    def _sync_rejections(self, approval_sync: RuntimeFunction) -> None:
        """A rejection fails the approval stage, so ApprovalSync never runs; this rule still records it."""
        events.Rule(
            self,
            "OnModelRejected",
            description=f"A decided-against {APPROVAL_ACTION} in {self.pipeline_name} marks the package Rejected",
            event_pattern=events.EventPattern(
                source=["aws.codepipeline"],
                detail_type=["CodePipeline Action Execution State Change"],
                detail={
                    "pipeline": [self.pipeline_name],
                    "stage": [APPROVAL_STAGE],
                    "action": [APPROVAL_ACTION],
                    "state": ["FAILED"],
                },
            ),
            targets=[targets.LambdaFunction(approval_sync.function, retry_attempts=2)],
        )

    # --- build projects -----------------------------------------------------------------------------------------

    def _train_project(self) -> PipelineBuildProject:
        storage, naming, flags = self.storage, self.naming, self.env_config.flags
        data_prefixes = ["datasets", *(["feature-store"] if flags.use_feature_store else [])]
        grants = [
            iam_role.s3_objects(storage.data_bucket, data_prefixes, write=True),
            iam_role.s3_objects(storage.artifacts_bucket, TRAIN_ARTIFACT_PREFIXES, write=True),
            iam_role.sagemaker_actions(self, naming, TRAIN_SAGEMAKER_ACTIONS, TRAIN_SAGEMAKER_RESOURCES),
            permissions.register_pending_only(self, naming),
            permissions.pass_role_to_sagemaker(storage.execution_role),
        ]
        if flags.use_sm_pipeline:
            grants.append(iam_role.sagemaker_actions(self, naming, SM_PIPELINE_ACTIONS, ["pipeline"]))
            grants.append(permissions.sdk_bucket_check(storage.artifacts_bucket, PIPELINES))
            grants.append(permissions.sdk_role_check(storage.execution_role))
        return PipelineBuildProject(
            self,
            "Train",
            naming=naming,
            env_config=self.env_config,
            storage=storage,
            log_key=self.log_key,
            purpose="train",
            buildspec=TRAIN_BUILDSPEC,
            description="Trains, evaluates and registers a model package (PendingManualApproval)",
            timeout=TRAIN_TIMEOUT,
            grants=grants,
        )

    def _deploy_project(self) -> PipelineBuildProject:
        if not self.links.trains:
            return self._release_deploy_project(self.links.origin)
        storage, naming = self.storage, self.naming
        grants = [
            iam_role.s3_objects(storage.artifacts_bucket, DEPLOY_READ_PREFIXES),
            *rolled_back_marks(storage),
            iam_role.model_packages(self, naming.model_package_group, PACKAGE_ACTIONS),
        ]
        return self._deploy_build(grants, DEPLOY_BUILDSPEC)

    def _release_deploy_project(self, source_env: EnvironmentConfig) -> PipelineBuildProject:
        """Prod's Deploy: reads the source's records, artifacts and tooling; writes only its own copies."""
        storage, naming = self.storage, self.naming
        source = Naming(naming.project, source_env.name)
        # Resolved from the source's SSM parameters at deploy time: Stages cannot reference each other.
        source_bucket_parameter = source.parameter(Param.ARTIFACTS_BUCKET)
        source_bucket_name = ssm.StringParameter.value_for_string_parameter(self, source_bucket_parameter)
        source_bucket = s3.Bucket.from_bucket_name(self, "SourceArtifacts", source_bucket_name)
        source_key = kms.Key.from_key_arn(
            self, "SourceKey", ssm.StringParameter.value_for_string_parameter(self, source.parameter(Param.KMS_KEY_ARN))
        )
        grants = [
            iam_role.s3_objects(storage.artifacts_bucket, RELEASE_COPY_PREFIXES, write=True),
            *rolled_back_marks(storage),
            iam_role.s3_objects(source_bucket, RELEASE_SOURCE_READS).because(
                f"S3 objects of {source_env.name}'s artifacts bucket read under "
                f"{', '.join(f'{prefix}/*' for prefix in RELEASE_SOURCE_READS)} only."
            ),
            iam_role.kms_use(source_key),
            iam_role.ssm_read(self, source),
            iam_role.model_packages(self, source.model_package_group, PACKAGE_ACTIONS),
        ]
        return self._deploy_build(
            grants,
            codebuild.BuildSpec.from_object(release_buildspec()),
            environment={"SOURCE_ENV": source_env.name},
            parameter_environment={"SOURCE_ARTIFACTS_BUCKET": source_bucket_parameter},
        )

    def _deploy_build(
        self,
        grants: list[Grant],
        buildspec: str | codebuild.BuildSpec,
        *,
        environment: dict[str, str] | None = None,
        parameter_environment: dict[str, str] | None = None,
    ) -> PipelineBuildProject:
        """The Deploy project's own SageMaker, alarm and PassRole grants around the environment-specific reads."""
        storage, naming = self.storage, self.naming
        project = PipelineBuildProject(
            self,
            "Deploy",
            naming=naming,
            env_config=self.env_config,
            storage=storage,
            log_key=self.log_key,
            purpose="deploy",
            buildspec=buildspec,
            description=f"Deploys an approved, verified model package to {naming.endpoint} behind the guardrails",
            timeout=DEPLOY_TIMEOUT,
            grants=[
                *grants,
                iam_role.sagemaker_actions(self, naming, DEPLOY_SAGEMAKER_ACTIONS, DEPLOY_SAGEMAKER_RESOURCES),
                iam_role.describe_alarms(self, naming),
                permissions.pass_role_to_sagemaker(storage.execution_role),
                permissions.endpoint_scaling(self, naming.endpoint),
            ],
            environment=environment,
            parameter_environment=parameter_environment,
        )
        return project

    # --- cdk-nag ------------------------------------------------------------------------------------------------

    def _acknowledge_cdk_grants(self) -> None:
        """What CDK granted once every stage is in: the pipeline role the artifact store and the key, and invoking the
        Lambda actions; each Lambda action the job result calls."""
        acknowledge_cdk_grants(
            self.pipeline.role,
            "CodePipeline's artifact store is granted object-wide with wildcard S3 and data-key actions by CDK; "
            "lambda:ListFunctions accepts no resource; invoking a Lambda action is granted on its versions (:*).",
            acknowledge_on=self.pipeline,
        )
        if self.functions is not None:
            self.functions.acknowledge_job_results()
