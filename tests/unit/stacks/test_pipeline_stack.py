from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from safedeploy.drift.skew import SUMMARY_LIMIT as SKEW_SUMMARY_LIMIT
from safedeploy.environment_config import load_config
from safedeploy.lambda_actions.quality_gate import SKEW_VARIABLE
from stacks.pipeline.approvals import CUSTOM_DATA_LIMIT, promotion_approval_message
from stacks.pipeline.promotion import promotion_links
from stacks.pipeline.release_buildspec import release_buildspec
from stacks.stage import EnvironmentStage
from tests.support.configuration import three_environments
from tests.unit.stacks.conftest import synth_app

ENVS = ("dev", "prod")
DEV_STAGES = ["Source", "Train", "QualityGate", "Approval", "ApprovalSync", "Deploy", "PromoteApproval", "Promote"]
PROD_STAGES = ["Source", "Approval", "Deploy"]


@pytest.fixture(scope="session")
def pipeline(stages: dict[str, EnvironmentStage]) -> dict[str, Template]:
    return {name: Template.from_stack(stage.pipeline) for name, stage in stages.items()}


@pytest.fixture(scope="session")
def solo_dev(cdk_context: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Template:
    """One environment that promotes nowhere, with every optional flag on."""
    context = copy.deepcopy(cdk_context)
    dev = context["environments"]["dev"]
    dev.update(promotes_to=None, flags={"use_sm_pipeline": True, "use_feature_store": True})
    dev["feature_store"] = {**dev.get("feature_store", {}), "enable_feature_group": True}
    context["environments"] = {"dev": dev}
    stages = synth_app(context, tmp_path_factory.mktemp("solo.out"))
    return Template.from_stack(stages["dev"].pipeline)


def pipeline_properties(template: Template) -> dict[str, Any]:
    (resource,) = template.find_resources("AWS::CodePipeline::Pipeline").values()
    return resource["Properties"]


def actions_by_stage(template: Template) -> dict[str, list[dict[str, Any]]]:
    return {stage["Name"]: stage["Actions"] for stage in pipeline_properties(template)["Stages"]}


def only_action(template: Template, stage: str) -> dict[str, Any]:
    (action,) = actions_by_stage(template)[stage]
    return action


def user_parameters(template: Template, stage: str) -> dict[str, Any]:
    return json.loads(only_action(template, stage)["Configuration"]["UserParameters"])


def logical_id(template: Template, resource_type: str, prefix: str) -> str:
    (found,) = [key for key in template.find_resources(resource_type) if key.startswith(prefix)]
    return found


def policy_statements(template: Template) -> list[dict[str, Any]]:
    return [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def arn_text(resource: Any) -> str:
    """An ARN built by format_arn, flattened: `arn:${Partition}:service:region:${Account}:rest`."""
    if isinstance(resource, str):
        return resource
    if "Fn::Join" in resource:
        return "".join(arn_text(part) for part in resource["Fn::Join"][1])
    return "${" + next(iter(resource.values())) + "}" if "Ref" in resource else json.dumps(resource)


def test_stage_order(pipeline: dict[str, Template]) -> None:
    assert list(actions_by_stage(pipeline["dev"])) == DEV_STAGES
    assert list(actions_by_stage(pipeline["prod"])) == PROD_STAGES


@pytest.mark.parametrize("env", ENVS)
def test_pipeline_is_v2_queued_on_the_encrypted_pipeline_bucket(pipeline: dict[str, Template], env: str) -> None:
    props = pipeline_properties(pipeline[env])
    assert props["PipelineType"] == "V2"
    assert props["ExecutionMode"] == "QUEUED"
    assert props["Name"] == f"my-mlops-{env}-pipeline"
    store = props["ArtifactStore"]
    # not the artifacts bucket: prod's carries Object Lock (tests/unit/stacks/test_object_lock_bucket.py)
    assert store["Location"]["Fn::ImportValue"].startswith(f"my-mlops-{env}-storage:ExportsOutputRefPipelineWork")
    assert store["EncryptionKey"]["Type"] == "KMS"
    assert store["EncryptionKey"]["Id"]["Fn::ImportValue"].startswith(
        f"my-mlops-{env}-storage:ExportsOutputFnGetAttKey"
    )


@pytest.mark.parametrize("env", ENVS)
def test_each_environment_owns_a_repository_named_after_it(pipeline: dict[str, Template], env: str) -> None:
    pipeline[env].has_resource_properties("AWS::CodeCommit::Repository", {"RepositoryName": f"my-mlops-{env}"})
    expected = "Retain" if env == "prod" else "Delete"
    pipeline[env].has_resource("AWS::CodeCommit::Repository", {"DeletionPolicy": expected})


@pytest.mark.parametrize("env", ENVS)
def test_pushes_to_the_configured_branch_start_the_pipeline(
    pipeline: dict[str, Template], cdk_context: dict[str, Any], env: str
) -> None:
    template = pipeline[env]
    branch = load_config(cdk_context).environments[env].pipeline.branch
    repository = logical_id(template, "AWS::CodeCommit::Repository", "Repository")
    rules = [
        rule["Properties"]
        for rule in template.find_resources("AWS::Events::Rule").values()
        if rule["Properties"]["EventPattern"].get("source") == ["aws.codecommit"]
    ]
    assert len(rules) == 1, "exactly one push trigger: prod's tooling source must not start the pipeline"
    (rule,) = rules
    assert rule["EventPattern"]["resources"] == [{"Fn::GetAtt": [repository, "Arn"]}]
    assert rule["EventPattern"]["detail"]["referenceName"] == [branch]
    assert rule["Targets"][0]["Arn"]["Fn::Join"][1][-1] == {
        "Ref": logical_id(template, "AWS::CodePipeline::Pipeline", "")
    }
    for action in actions_by_stage(template)["Source"]:
        assert action["Configuration"]["PollForSourceChanges"] is False


@pytest.mark.parametrize("env", ENVS)
def test_approvals_notify_a_kms_encrypted_topic(pipeline: dict[str, Template], env: str) -> None:
    template = pipeline[env]
    topic = logical_id(template, "AWS::SNS::Topic", "ApprovalTopic")
    props = template.find_resources("AWS::SNS::Topic")[topic]["Properties"]
    assert props["KmsMasterKeyId"]["Fn::ImportValue"].startswith(f"my-mlops-{env}-storage:ExportsOutputFnGetAttKey")
    approvals = [
        action
        for stage_actions in actions_by_stage(template).values()
        for action in stage_actions
        if action["ActionTypeId"]["Category"] == "Approval"
    ]
    assert len(approvals) == (2 if env == "dev" else 1)
    for action in approvals:
        assert action["Configuration"]["NotificationArn"] == {"Ref": topic}
        assert len(action["Configuration"]["CustomData"]) <= CUSTOM_DATA_LIMIT


def test_model_approval_shows_candidate_metrics_and_a_registry_link(pipeline: dict[str, Template]) -> None:
    config = only_action(pipeline["dev"], "Approval")["Configuration"]
    for variable in ("MODEL_PACKAGE_ARN", "MODEL_METRICS"):
        assert f"#{{Train.{variable}}}" in config["CustomData"]
    # The skew summary (at most SUMMARY_LIMIT characters) replaces its reference within CodePipeline's limit.
    reference = f"#{{QualityGate.{SKEW_VARIABLE}}}"
    assert reference in config["CustomData"]
    assert len(config["CustomData"]) - len(reference) + SKEW_SUMMARY_LIMIT <= CUSTOM_DATA_LIMIT
    assert config["ExternalEntityLink"].startswith("https://ap-northeast-2.console.aws.amazon.com/sagemaker/")
    assert config["ExternalEntityLink"].endswith("my-mlops-dev-models")


def test_approval_message_longer_than_codepipeline_allows_is_refused() -> None:
    with pytest.raises(ValueError, match=r"approval message is \d+ characters"):
        promotion_approval_message("x" * CUSTOM_DATA_LIMIT, "repo")


@pytest.mark.parametrize(("env", "purpose"), [("dev", "Train"), ("dev", "Deploy"), ("prod", "Deploy")])
def test_build_projects_log_to_named_groups_with_retention(
    pipeline: dict[str, Template], cdk_context: dict[str, Any], env: str, purpose: str
) -> None:
    template = pipeline[env]
    group = logical_id(template, "AWS::Logs::LogGroup", f"{purpose}Logs")
    props = template.find_resources("AWS::Logs::LogGroup")[group]["Properties"]
    assert props["LogGroupName"] == f"my-mlops-{env}-{purpose}Logs"
    assert props["RetentionInDays"] == load_config(cdk_context).environments[env].pipeline.log_retention_days
    project = template.find_resources("AWS::CodeBuild::Project")[
        logical_id(template, "AWS::CodeBuild::Project", purpose)
    ]
    assert project["Properties"]["LogsConfig"]["CloudWatchLogs"]["GroupName"] == {"Ref": group}


@pytest.mark.parametrize(("env", "purpose"), [("dev", "Train"), ("dev", "Deploy"), ("prod", "Deploy")])
def test_build_projects_are_encrypted_cached_and_configured(
    pipeline: dict[str, Template], env: str, purpose: str
) -> None:
    template = pipeline[env]
    props = template.find_resources("AWS::CodeBuild::Project")[
        logical_id(template, "AWS::CodeBuild::Project", purpose)
    ]["Properties"]
    assert props["Name"] == f"my-mlops-{env}-{purpose.lower()}"
    if env == "prod":  # prod's Deploy carries its own buildspec: no repository decides what it runs
        assert json.loads(props["Source"]["BuildSpec"]) == release_buildspec()
    else:
        assert props["Source"]["BuildSpec"] == ("buildspec-dev.yml" if purpose == "Train" else "buildspec-deploy.yml")
    assert props["EncryptionKey"]["Fn::ImportValue"].startswith(f"my-mlops-{env}-storage:ExportsOutputFnGetAttKey")
    assert props["Cache"]["Type"] == "S3"
    assert props["Cache"]["Location"]["Fn::Join"][1][-1] == "pipelines/build-cache"
    assert props["Environment"]["PrivilegedMode"] is False
    variables = {var["Name"]: (var["Type"], var["Value"]) for var in props["Environment"]["EnvironmentVariables"]}
    common = {"PROJECT": "my-mlops", "ENV": env, "USE_SM_PIPELINE": "false", "USE_FEATURE_STORE": "false"}
    source = {
        "SOURCE_ENV": ("PLAINTEXT", "dev"),
        "SOURCE_ARTIFACTS_BUCKET": ("PARAMETER_STORE", "/my-mlops/dev/artifacts-bucket"),
    }
    assert variables == {
        **{name: ("PLAINTEXT", value) for name, value in common.items()},
        **(source if env == "prod" else {}),
    }


def test_flags_reach_the_build_as_true(solo_dev: Template) -> None:
    props = solo_dev.find_resources("AWS::CodeBuild::Project")[logical_id(solo_dev, "AWS::CodeBuild::Project", "Train")]
    variables = {var["Name"]: var["Value"] for var in props["Properties"]["Environment"]["EnvironmentVariables"]}
    assert variables["USE_SM_PIPELINE"] == "true"
    assert variables["USE_FEATURE_STORE"] == "true"


def test_train_exports_variables_and_deploy_receives_the_package(pipeline: dict[str, Template]) -> None:
    template = pipeline["dev"]
    assert only_action(template, "Train")["Namespace"] == "Train"
    deploy = only_action(template, "Deploy")["Configuration"]
    assert json.loads(deploy["EnvironmentVariables"]) == [
        {"name": "MODEL_PACKAGE_ARN", "type": "PLAINTEXT", "value": "#{Train.MODEL_PACKAGE_ARN}"}
    ]


def test_quality_gate_gets_the_package_and_configured_thresholds(
    pipeline: dict[str, Template], cdk_context: dict[str, Any]
) -> None:
    assert user_parameters(pipeline["dev"], "QualityGate") == {
        "model_package_arn": "#{Train.MODEL_PACKAGE_ARN}",
        "thresholds": {"min_auc": 0.75, "min_accuracy": 0.7, "min_f1": 0.6, "max_regression": 0.01},
        "skew": {"block": False, "alpha": 0.05, "sensitivity": 0.1},
    }


def function_environment(template: Template, prefix: str) -> dict[str, Any]:
    function = template.find_resources("AWS::Lambda::Function")[logical_id(template, "AWS::Lambda::Function", prefix)]
    return function["Properties"]["Environment"]["Variables"]


def test_approval_sync_and_promote_read_approvals_their_own_configuration_names(pipeline: dict[str, Template]) -> None:
    """Which approval each function reads is its environment's, not the invocation's: a direct invocation once named
    the model approval as the promotion approval and committed release.json before anyone decided the promotion."""
    template = pipeline["dev"]
    sync = user_parameters(template, "ApprovalSync")
    promote = user_parameters(template, "Promote")
    for params in (sync, promote):
        assert params["pipeline_execution_id"] == "#{codepipeline.PipelineExecutionId}"
        assert params["model_package_arn"] == "#{Train.MODEL_PACKAGE_ARN}"
        assert not {"pipeline_name", "approval_stage", "approval_action"} & set(params)
    sync_env = function_environment(template, "ReleaseFunctionsApprovalSync")
    promote_env = function_environment(template, "ReleaseFunctionsPromote")
    approvals = [(env["APPROVAL_STAGE"], env["APPROVAL_ACTION"]) for env in (sync_env, promote_env)]
    approvals.append((promote_env["PROMOTION_APPROVAL_STAGE"], promote_env["PROMOTION_APPROVAL_ACTION"]))
    assert len(set(approvals)) == 2  # the model approval twice, the promotion approval once
    for stage, action_name in approvals:
        action = only_action(template, stage)
        assert (action["Name"], action["ActionTypeId"]) == (
            action_name,
            {"Category": "Approval", "Owner": "AWS", "Provider": "Manual", "Version": "1"},
        )
    assert {sync_env["PIPELINE_NAME"], promote_env["PIPELINE_NAME"]} == {"my-mlops-dev-pipeline"}
    assert promote["source_commit"] == "#{Source.CommitId}"
    assert only_action(template, "Source")["Namespace"] == "Source"


def test_a_rejection_still_reaches_approval_sync(pipeline: dict[str, Template]) -> None:
    """A rejection fails the Approval stage, so only an EventBridge rule can carry it to the model package."""
    template = pipeline["dev"]
    function = logical_id(template, "AWS::Lambda::Function", "ReleaseFunctionsApprovalSync")
    (rule,) = [
        rule["Properties"]
        for rule in template.find_resources("AWS::Events::Rule").values()
        if rule["Properties"]["EventPattern"].get("source") == ["aws.codepipeline"]
    ]
    assert rule["EventPattern"]["detail-type"] == ["CodePipeline Action Execution State Change"]
    assert rule["EventPattern"]["detail"] == {
        "pipeline": ["my-mlops-dev-pipeline"],
        "stage": ["Approval"],
        "action": [only_action(template, "Approval")["Name"]],
        "state": ["FAILED"],
    }
    assert rule["Targets"][0]["Arn"] == {"Fn::GetAtt": [function, "Arn"]}


def test_prod_deploys_from_its_own_repository_only(pipeline: dict[str, Template]) -> None:
    """No branch of dev's repository reaches prod's Deploy: its only input is prod's repository (release.json)."""
    template = pipeline["prod"]
    (release,) = actions_by_stage(template)["Source"]
    assert release["Configuration"]["RepositoryName"] == {
        "Fn::GetAtt": [logical_id(template, "AWS::CodeCommit::Repository", "Repository"), "Name"]
    }
    assert release["OutputArtifacts"] == [{"Name": "ReleaseManifest"}]
    deploy = only_action(template, "Deploy")
    assert deploy["InputArtifacts"] == [{"Name": "ReleaseManifest"}]
    assert "PrimarySource" not in deploy["Configuration"]
    # Only the release commit's message, which the gate reads to tell a flagged downgrade.
    assert json.loads(deploy["Configuration"]["EnvironmentVariables"]) == [
        {"name": "RELEASE_COMMIT_MESSAGE", "type": "PLAINTEXT", "value": "#{Source.CommitMessage}"}
    ]
    assert not template.find_resources("AWS::Lambda::Function"), "prod never trains, gates or promotes"
    assert not template.find_resources("AWS::CodeBuild::Project", {"Properties": {"Name": "my-mlops-prod-train"}})
    assert "my-mlops-dev" not in json.dumps(template.find_resources("AWS::CodePipeline::Pipeline"))


def test_the_prod_approval_shows_what_will_be_deployed(pipeline: dict[str, Template]) -> None:
    """The promotion commit's message names package, metrics, dev commit and dev approver (Promote writes it)."""
    approval = only_action(pipeline["prod"], "Approval")["Configuration"]["CustomData"]
    assert "#{Source.CommitMessage}" in approval
    assert "approval records" in approval


def test_a_pipeline_that_promotes_nowhere_ends_with_deploy(solo_dev: Template) -> None:
    assert list(actions_by_stage(solo_dev)) == DEV_STAGES[:6]
    assert len(solo_dev.find_resources("AWS::Lambda::Function")) == 2


# --- IAM ------------------------------------------------------------------------------------------------------------


def build_role_statements(template: Template) -> list[dict[str, Any]]:
    """Every statement granted to the CodeBuild projects' roles (their default policy and ours)."""
    roles = {
        project["Properties"]["ServiceRole"]["Fn::GetAtt"][0]
        for project in template.find_resources("AWS::CodeBuild::Project").values()
    }
    return [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if {role["Ref"] for role in policy["Properties"]["Roles"]} & roles
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


@pytest.mark.parametrize("env", ENVS)
def test_build_roles_have_no_service_wide_actions(pipeline: dict[str, Template], env: str) -> None:
    statements = build_role_statements(pipeline[env])
    actions = {action for statement in statements for action in as_list(statement["Action"])}
    assert actions, "the build roles' policies were not found"
    assert not {"sagemaker:*", "s3:*", "*"} & actions
    assert not [action for action in actions if action.startswith("sagemaker:") and "*" in action]


@pytest.mark.parametrize("template_name", ["dev", "prod", "solo"])
def test_sagemaker_access_is_scoped_to_environment_prefixes(
    pipeline: dict[str, Template], solo_dev: Template, template_name: str
) -> None:
    template = solo_dev if template_name == "solo" else pipeline[template_name]
    env = "prod" if template_name == "prod" else "dev"
    for statement in build_role_statements(template):
        actions = as_list(statement["Action"])
        if not any(action.startswith("sagemaker:") for action in actions):
            continue
        for resource in as_list(statement["Resource"]):
            text = arn_text(resource)
            # Packages: dev's (prod deploys what dev approved); readers name dev's group exactly, Train registers
            # under dev's prefix; the rest: its own environment's.
            resource_name = text.split(":")[-1]
            allowed = (
                ("model-package/my-mlops-dev-models/*", "model-package/my-mlops-dev-*")
                if resource_name.startswith("model-package/")
                else (f"my-mlops-{env}-*",)
            )
            assert text.endswith(allowed), text


@pytest.mark.parametrize("template_name", ["dev", "prod", "solo"])
def test_pass_role_is_only_for_the_execution_role_and_sagemaker(
    pipeline: dict[str, Template], solo_dev: Template, template_name: str
) -> None:
    template = solo_dev if template_name == "solo" else pipeline[template_name]
    env = "prod" if template_name == "prod" else "dev"
    pass_role = [s for s in policy_statements(template) if "iam:PassRole" in as_list(s["Action"])]
    assert pass_role, "the build roles need to pass the SageMaker execution role"
    for statement in pass_role:
        assert as_list(statement["Action"]) == ["iam:PassRole"]
        assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
        export = statement["Resource"]["Fn::ImportValue"]
        assert export.startswith(f"my-mlops-{env}-storage:ExportsOutputFnGetAttSageMakerExecutionRole")


def test_sm_pipeline_permissions_follow_the_flag(pipeline: dict[str, Template], solo_dev: Template) -> None:
    def granted(template: Template) -> set[str]:
        return {action for s in build_role_statements(template) for action in as_list(s["Action"])}

    assert "sagemaker:StartPipelineExecution" in granted(solo_dev)
    assert "sagemaker:StartPipelineExecution" not in granted(pipeline["dev"])

    def sdk_checks(template: Template) -> list[tuple[list[str], Any]]:
        """The SageMaker SDK's checks: the bucket names, the pipelines prefix exactly, the execution role's policy
        (the roles' other listings are under their prefixes, `StringLike`)."""
        return [
            (as_list(s["Action"]), s.get("Condition"))
            for s in build_role_statements(template)
            if {"s3:ListAllMyBuckets", "iam:SimulatePrincipalPolicy"} & set(as_list(s["Action"]))
            or (as_list(s["Action"]) == ["s3:ListBucket"] and "StringEquals" in s.get("Condition", {}))
        ]

    assert sdk_checks(solo_dev) == [
        (["s3:ListAllMyBuckets"], None),
        (["s3:ListBucket"], {"StringEquals": {"s3:prefix": "pipelines"}}),
        (["iam:SimulatePrincipalPolicy"], None),
    ]
    assert sdk_checks(pipeline["dev"]) == []
    assert not [s for s in build_role_statements(solo_dev) if ":training-job/*" in json.dumps(s["Resource"])]


def test_ssm_reads_stop_at_the_environment_path(pipeline: dict[str, Template]) -> None:
    """Prod's Deploy also reads its source's parameters: where dev's records and artifacts are."""
    allowed = {
        "dev": (":parameter/my-mlops/dev/*",),
        "prod": (":parameter/my-mlops/prod/*", ":parameter/my-mlops/dev/*", ":parameter/my-mlops/dev/artifacts-bucket"),
    }
    for env in ENVS:
        for statement in build_role_statements(pipeline[env]):
            if {"ssm:GetParameter", "ssm:GetParameters"} & set(as_list(statement["Action"])):
                for resource in as_list(statement["Resource"]):
                    assert arn_text(resource).endswith(allowed[env]), arn_text(resource)


def test_only_promote_writes_and_only_to_the_prod_repository(pipeline: dict[str, Template]) -> None:
    template = pipeline["dev"]
    writers = {
        key: statement
        for key, policy in template.find_resources("AWS::IAM::Policy").items()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if {"codecommit:PutFile", "codecommit:CreateCommit", "codecommit:GitPush"} & set(as_list(statement["Action"]))
    }
    assert list(writers) == [logical_id(template, "AWS::IAM::Policy", "ReleaseFunctionsPromotePermissions")]
    (statement,) = writers.values()
    assert sorted(statement["Action"]) == ["codecommit:GetBranch", "codecommit:PutFile"]
    assert (
        arn_text(statement["Resource"])
        == "arn:${AWS::Partition}:codecommit:ap-northeast-2:${AWS::AccountId}:my-mlops-prod"
    )
    function = template.find_resources("AWS::Lambda::Function")[
        logical_id(template, "AWS::Lambda::Function", "ReleaseFunctionsPromote")
    ]
    variables = function["Properties"]["Environment"]["Variables"]
    assert (variables["RELEASE_REPOSITORY"], variables["RELEASE_BRANCH"]) == ("my-mlops-prod", "main")


def test_approval_records_read_only_this_pipeline(pipeline: dict[str, Template]) -> None:
    reads = [
        s for s in policy_statements(pipeline["dev"]) if "codepipeline:ListActionExecutions" in as_list(s["Action"])
    ]
    assert len(reads) == 2  # ApprovalSync and Promote
    for statement in reads:
        expected = "arn:${AWS::Partition}:codepipeline:ap-northeast-2:${AWS::AccountId}:my-mlops-dev-pipeline"
        assert arn_text(statement["Resource"]) == expected


def test_only_approval_sync_can_change_a_package_approval(pipeline: dict[str, Template]) -> None:
    template = pipeline["dev"]
    allowed = [
        (key, statement)
        for key, policy in template.find_resources("AWS::IAM::Policy").items()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "sagemaker:UpdateModelPackage" in as_list(statement["Action"]) and statement.get("Effect") == "Allow"
    ]
    assert [key for key, _ in allowed] == [
        logical_id(template, "AWS::IAM::Policy", "ReleaseFunctionsApprovalSyncPermissions")
    ]
    assert allowed[0][1]["Condition"] == {"StringEquals": {"sagemaker:ModelApprovalStatus": ["Approved", "Rejected"]}}


def test_a_build_registers_only_pending_packages_and_never_approves(pipeline: dict[str, Template]) -> None:
    """IAM's sagemaker:ModelApprovalStatus condition key: CreateModelPackage only as PendingManualApproval."""
    statements = build_role_statements(pipeline["dev"])
    creates = [s for s in statements if "sagemaker:CreateModelPackage" in as_list(s["Action"])]
    assert [s["Condition"] for s in creates] == [
        {"StringEquals": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}}
    ]
    assert as_list(creates[0]["Action"]) == ["sagemaker:CreateModelPackage"]
    denies = [s for s in statements if s.get("Effect") == "Deny"]
    assert [as_list(s["Action"]) for s in denies] == [["sagemaker:UpdateModelPackage"]]


# --- promotion links ------------------------------------------------------------------------------------------------


def test_links_follow_promotes_to(cdk_context: dict[str, Any]) -> None:
    config = load_config(cdk_context)
    dev = promotion_links(config, config.environments["dev"])
    prod = promotion_links(config, config.environments["prod"])
    assert (dev.trains, dev.target.name if dev.target else None, dev.source, dev.origin.name) == (
        True,
        "prod",
        None,
        "dev",
    )
    assert (prod.trains, prod.target, prod.source.name if prod.source else None, prod.origin.name) == (
        False,
        None,
        "dev",
        "dev",
    )


@pytest.mark.parametrize("env", ENVS)
def test_the_deploy_step_may_keep_endpoint_autoscaling_and_nothing_broader(
    pipeline: dict[str, Template], env: str
) -> None:
    statements = build_role_statements(pipeline[env])
    scaling = [s for s in statements if any(a.startswith("application-autoscaling:") for a in as_list(s["Action"]))]
    writes, reads = sorted(scaling, key=lambda s: s["Resource"] == "*")
    assert sorted(as_list(writes["Action"])) == sorted(
        f"application-autoscaling:{verb}"
        for verb in ("RegisterScalableTarget", "DeregisterScalableTarget", "PutScalingPolicy", "DeleteScalingPolicy")
    )
    # the writes: scalable targets of this account and region, SageMaker variant instance counts only (CKV_AWS_111)
    assert arn_text(writes["Resource"]).endswith(":scalable-target/*")
    assert writes["Condition"] == {
        "StringEquals": {
            "application-autoscaling:service-namespace": "sagemaker",
            "application-autoscaling:scalable-dimension": "sagemaker:variant:DesiredInstanceCount",
        }
    }
    assert (reads["Resource"], sorted(as_list(reads["Action"]))) == (
        "*",
        ["application-autoscaling:DescribeScalableTargets", "application-autoscaling:DescribeScalingPolicies"],
    )
    (linked_role,) = [s for s in statements if "iam:CreateServiceLinkedRole" in as_list(s["Action"])]
    assert linked_role["Condition"] == {
        "StringLike": {"iam:AWSServiceName": "sagemaker.application-autoscaling.amazonaws.com"}
    }
    assert arn_text(linked_role["Resource"]).endswith("AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint")
    (alarms,) = [s for s in statements if "cloudwatch:PutMetricAlarm" in as_list(s["Action"])]
    assert arn_text(alarms["Resource"]).endswith(f":alarm:TargetTracking-endpoint/my-mlops-{env}-endpoint/*")


def test_a_chain_links_every_environment_to_its_origin(cdk_context: dict[str, Any]) -> None:
    config = load_config(three_environments(cdk_context))
    staging = promotion_links(config, config.environments["staging"])
    assert (staging.source.name if staging.source else None, staging.target.name if staging.target else None) == (
        "dev",
        "prod",
    )
    assert promotion_links(config, config.environments["prod"]).origin.name == "dev"
    assert config.chain_of("staging") == ["dev", "staging", "prod"]
