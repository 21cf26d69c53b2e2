from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Environment
from aws_cdk.assertions import Match, Template

from safedeploy.environment_config import load_config
from safedeploy.errors import ConfigError
from safedeploy.naming import Naming
from safedeploy.parameters import Param
from safedeploy.serving_contract import ServingContract
from stacks.storage_stack import StorageStack
from tests.unit.stacks.conftest import synth_app

ENVS = ("dev", "prod")
KMS_BUCKETS = ("Data", "Artifacts")


def buckets(template: Template) -> dict[str, dict[str, Any]]:
    return template.find_resources("AWS::S3::Bucket")


def bucket(template: Template, prefix: str) -> dict[str, Any]:
    (resource,) = [res for logical_id, res in buckets(template).items() if logical_id.startswith(prefix)]
    return resource


def test_key_rotates(storage: dict[str, Template]) -> None:
    for env in ENVS:
        storage[env].has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
        storage[env].has_resource_properties("AWS::KMS::Alias", {"AliasName": f"alias/my-mlops-{env}"})


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("name", KMS_BUCKETS)
def test_data_buckets_use_the_environment_key(storage: dict[str, Template], env: str, name: str) -> None:
    template = storage[env]
    (key_id,) = template.find_resources("AWS::KMS::Key")
    props = bucket(template, name)["Properties"]
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]},
    }
    assert rule["BucketKeyEnabled"] is True
    assert props["LoggingConfiguration"]["DestinationBucketName"]["Ref"].startswith("AccessLogs")


@pytest.mark.parametrize("env", ENVS)
def test_every_bucket_is_versioned_private_and_tls_only(storage: dict[str, Template], env: str) -> None:
    template = storage[env]
    all_buckets = buckets(template)
    assert len(all_buckets) == 5  # access logs, data, artifacts, the pipeline's and the drift check's working buckets
    for logical_id, resource in all_buckets.items():
        props = resource["Properties"]
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}, logical_id
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, logical_id
    policies = template.find_resources("AWS::S3::BucketPolicy")
    tls_protected = set()
    for policy in policies.values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny" and statement.get("Condition") == {
                "Bool": {"aws:SecureTransport": "false"}
            }:
                tls_protected.add(policy["Properties"]["Bucket"]["Ref"])
    assert tls_protected == set(all_buckets)


def test_retention_follows_the_environment(storage: dict[str, Template], stages: dict[str, Any]) -> None:
    for resource in buckets(storage["prod"]).values():
        assert resource["DeletionPolicy"] == "Retain"
    for resource in buckets(storage["dev"]).values():
        assert resource["DeletionPolicy"] == "Delete"
    storage["prod"].has_resource("AWS::KMS::Key", {"DeletionPolicy": "Retain"})
    storage["prod"].has_resource("AWS::SageMaker::ModelPackageGroup", {"DeletionPolicy": "Retain"})
    assert stages["prod"].storage.termination_protection is True
    assert stages["dev"].storage.termination_protection is False


@pytest.mark.parametrize("env", ENVS)
def test_model_package_group_name(storage: dict[str, Template], env: str) -> None:
    storage[env].has_resource_properties(
        "AWS::SageMaker::ModelPackageGroup", {"ModelPackageGroupName": f"my-mlops-{env}-models"}
    )


@pytest.mark.parametrize("env", ENVS)
def test_every_runtime_parameter_is_published(storage: dict[str, Template], env: str) -> None:
    published = {res["Properties"]["Name"] for res in storage[env].find_resources("AWS::SSM::Parameter").values()}
    expected = {f"/my-mlops/{env}/{key.value}" for key in Param} - {
        f"/my-mlops/{env}/{Param.FEATURE_GROUP_NAME.value}",  # only with a feature group
        f"/my-mlops/{env}/{Param.DEPLOYMENT_CONFIG.value}",  # published by the guardrails stack
        f"/my-mlops/{env}/{Param.GATEWAY_API_KEYS_TABLE.value}",  # published by the serving stack, with its tables
        f"/my-mlops/{env}/{Param.GATEWAY_FEEDBACK_TABLE.value}",
    }
    assert published >= expected
    storage[env].has_resource_properties(
        "AWS::SSM::Parameter", {"Name": f"/my-mlops/{env}/endpoint-name", "Value": f"my-mlops-{env}-endpoint"}
    )


def test_execution_role_is_scoped_to_its_prefixes(storage: dict[str, Template]) -> None:
    template = storage["dev"]
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "RoleName": "my-mlops-dev-sagemaker-execution",
            "AssumeRolePolicyDocument": {
                "Statement": [Match.object_like({"Principal": {"Service": "sagemaker.amazonaws.com"}})]
            },
        },
    )
    (policy,) = template.find_resources("AWS::IAM::Policy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]

    def suffixes(action: str) -> list[str]:
        return sorted(
            resource["Fn::Join"][1][-1]
            for statement in statements
            if action in statement["Action"]
            for resource in statement["Resource"]
        )

    assert suffixes("s3:GetObject") == sorted(
        f"/{prefix}/*" for prefix in ("datasets", "feature-store", "models", "evaluation", "pipelines")
    )
    # Its jobs write scratch space and data only: models/ and decisions/ are never its to write.
    assert suffixes("s3:PutObject") == sorted(f"/{prefix}/*" for prefix in ("datasets", "feature-store", "pipelines"))


def _storage_template(cdk_context: dict[str, Any], feature_store: dict[str, Any]) -> Template:
    context = copy.deepcopy(cdk_context)
    context["environments"]["dev"]["feature_store"] = feature_store
    context["model"] = {**context["model"], "contract": {"features": ["tenure", "spend"], "health_check": [3, 9.5]}}
    config = load_config(context)
    env_config = config.environments["dev"]
    where = Environment(region=env_config.region)  # as in the app: the stage gives every stack its region
    naming = Naming("my-mlops", "dev")
    stack = StorageStack(App(), "storage", naming=naming, env_config=env_config, model=config.model, env=where)
    return Template.from_stack(stack)


def test_feature_group_is_created_when_enabled(cdk_context: dict[str, Any]) -> None:
    template = _storage_template(cdk_context, {"enable_feature_group": True})
    template.has_resource_properties(
        "AWS::SageMaker::FeatureGroup",
        {"FeatureGroupName": "my-mlops-dev-features", "RecordIdentifierFeatureName": "record_id"},
    )
    (group,) = template.find_resources("AWS::SageMaker::FeatureGroup").values()
    columns = [feature["FeatureName"] for feature in group["Properties"]["FeatureDefinitions"]]
    assert columns == ["record_id", "event_time", "tenure", "spend", "label"]  # the model's columns, not the example's
    template.has_resource_properties(
        "AWS::SSM::Parameter", {"Name": "/my-mlops/dev/feature-group-name", "Value": "my-mlops-dev-features"}
    )


def test_the_models_serving_contract_is_published_for_the_smoke_tests(cdk_context: dict[str, Any]) -> None:
    template = _storage_template(cdk_context, {})
    (parameter,) = [
        resource["Properties"]
        for resource in template.find_resources("AWS::SSM::Parameter").values()
        if resource["Properties"]["Name"] == "/my-mlops/dev/serving-contract"
    ]
    contract = ServingContract.from_json(parameter["Value"])
    assert (contract.features, contract.health_check_body()) == (("tenure", "spend"), "3.0,9.5\n")


def test_existing_feature_group_is_imported_by_name(cdk_context: dict[str, Any]) -> None:
    template = _storage_template(
        cdk_context,
        {"enable_feature_group": True, "use_existing_feature_group": True, "feature_group_name": "shared-features"},
    )
    template.resource_count_is("AWS::SageMaker::FeatureGroup", 0)
    template.has_resource_properties(
        "AWS::SSM::Parameter", {"Name": "/my-mlops/dev/feature-group-name", "Value": "shared-features"}
    )


def test_prod_serves_its_own_copies_and_reads_nothing_of_dev(storage: dict[str, Template]) -> None:
    """Prod's Deploy copies what it serves into prod's bucket, so dev's teardown cannot take it away."""
    text = json.dumps(storage["prod"].to_json())
    assert "/my-mlops/dev/" not in text and "my-mlops-dev" not in text
    assert not [
        logical_id for logical_id in storage["prod"].find_resources("AWS::IAM::Policy") if "Promoted" in logical_id
    ]


def test_promotion_across_accounts_is_refused(cdk_context: dict[str, Any], tmp_path: Path) -> None:
    context = copy.deepcopy(cdk_context)
    context["environments"]["prod"]["account"] = "444455556666"
    with pytest.raises(ConfigError, match=r"^environments\.dev\.promotes_to: 'prod' is in another account or region"):
        synth_app(context, tmp_path)
