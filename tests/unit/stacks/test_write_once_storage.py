"""Approved artifacts and decision records are immutable: the bucket policy, Object Lock and the roles' grants.

The template assertions pin the mechanisms; the behaviour tests evaluate requests of each role against the very
policies synthesized (`testbed.iam_eval`), because moto does not evaluate IAM.
"""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk.assertions import Template

from safedeploy.write_once import IMMUTABLE_PREFIXES, RECORD_WRITERS
from stacks.stage import EnvironmentStage
from testbed.iam_eval import PolicyWorld, Principal, allowed

ENVS = ("dev", "prod")
KEY = "models/0123456789ab/7/model.tar.gz"


@pytest.fixture(scope="session")
def worlds(stages: dict[str, EnvironmentStage]) -> dict[str, PolicyWorld]:
    return {
        env: PolicyWorld(
            [Template.from_stack(stack).to_json() for stack in stage.node.children if isinstance(stack, Stack)],
            stage.storage.region,
        )
        for env, stage in stages.items()
    }


def artifacts_policy(storage: Template) -> dict[str, dict[str, Any]]:
    (policy,) = [
        resource["Properties"]["PolicyDocument"]
        for resource in storage.find_resources("AWS::S3::BucketPolicy").values()
        if resource["Properties"]["Bucket"]["Ref"].startswith("Artifacts")
    ]
    return {statement["Sid"]: statement for statement in policy["Statement"] if "Sid" in statement}


def object_prefixes(statement: dict[str, Any]) -> set[str]:
    resources = statement["Resource"]
    return {resource["Fn::Join"][1][-1] for resource in (resources if isinstance(resources, list) else [resources])}


@pytest.mark.parametrize("env", ENVS)
def test_no_principal_deletes_or_replaces_write_once_objects(storage: dict[str, Template], env: str) -> None:
    statements = artifacts_policy(storage[env])
    expected = {f"/{prefix}/*" for prefix in IMMUTABLE_PREFIXES}
    delete, replace = statements["DenyDeletingWriteOnceObjects"], statements["DenyReplacingWriteOnceObjects"]
    for statement in (delete, replace):
        assert (statement["Effect"], statement["Principal"]) == ("Deny", {"AWS": "*"})
        assert object_prefixes(statement) == expected
    assert set(delete["Action"]) == {"s3:DeleteObject", "s3:DeleteObjectVersion"}
    assert replace["Condition"] == {
        "Null": {"s3:if-none-match": "true"},
        "Bool": {"s3:ObjectCreationOperation": "true"},
    }
    # Only dev's teardown (auto-delete) may still empty the bucket; prod has no exception at all.
    teardown = delete.get("Condition", {}).get("ArnNotEquals", {}).get("aws:PrincipalArn")
    if env == "dev":
        assert teardown["Fn::GetAtt"][0].startswith("CustomS3AutoDeleteObjectsCustomResourceProviderRole")
    else:
        assert teardown is None


@pytest.mark.parametrize("env", ENVS)
def test_each_record_prefix_admits_its_owner_role_alone(storage: dict[str, Template], env: str) -> None:
    denies = [s for s in artifacts_policy(storage[env]).values() if "ArnNotEquals" in s.get("Condition", {})]
    owners = {
        next(iter(object_prefixes(s))): [
            arn["Fn::Join"][1][-1] for arn in s["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
        ]
        for s in denies
        if s["Action"] == "s3:PutObject"
    }
    assert owners == {
        f"/{prefix}/*": [f":role/my-mlops-{env}-{writer}" for writer in writers]
        for prefix, writers in RECORD_WRITERS.items()
    }


def test_prod_locks_its_artifacts_and_nobody_bypasses_the_lock(storage: dict[str, Template]) -> None:
    prod = storage["prod"]
    (artifacts,) = [r for i, r in prod.find_resources("AWS::S3::Bucket").items() if i.startswith("Artifacts")]
    assert artifacts["Properties"]["ObjectLockEnabled"] is True
    assert artifacts["Properties"]["ObjectLockConfiguration"] == {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Days": 365, "Mode": "GOVERNANCE"}},
    }
    bypass = artifacts_policy(prod)["DenyBypassingObjectLock"]
    assert (bypass["Effect"], bypass["Action"], bypass["Principal"]) == (
        "Deny",
        "s3:BypassGovernanceRetention",
        {"AWS": "*"},
    )
    dev_buckets = storage["dev"].find_resources("AWS::S3::Bucket").values()
    assert not [bucket for bucket in dev_buckets if "ObjectLockEnabled" in bucket["Properties"]]
    assert "DenyBypassingObjectLock" not in artifacts_policy(storage["dev"])


def may(world: PolicyWorld, who: Principal, action: str, key: str, **context: str) -> bool:
    return allowed(world, who, "Artifacts", action, key, **context)


@pytest.mark.parametrize("env", ENVS)
def test_build_roles_write_new_objects_only_and_never_delete(worlds: dict[str, PolicyWorld], env: str) -> None:
    world = worlds[env]
    deploy = world.role(project_name=f"my-mlops-{env}-deploy")
    assert may(world, deploy, "s3:GetObject", KEY)
    # CDK's artifact-store grant lets every pipeline role create keys anywhere; none of them can replace one.
    assert not may(world, deploy, "s3:PutObject", KEY)
    assert not may(world, deploy, "s3:PutObject", "approvals/p/1.json", if_none_match="*")
    # CDK grants pipeline roles s3:DeleteObject* on their artifact store, which is the pipeline's working bucket now,
    # not this one (prod's carries Object Lock): nothing here can be deleted by them.
    assert not may(world, deploy, "s3:DeleteObject", "my-mlops-dev-pipeline/Code/abc.zip")
    for action in ("s3:DeleteObject", "s3:DeleteObjectVersion"):
        for prefix in IMMUTABLE_PREFIXES:
            assert not may(world, deploy, action, f"{prefix}/x.json"), (action, prefix)
    if env == "dev":
        train = world.role(project_name="my-mlops-dev-train")
        assert may(world, train, "s3:PutObject", KEY, if_none_match="*")
        assert not may(world, train, "s3:PutObject", KEY), "an unconditional put could replace an approved model"
        assert not may(world, train, "s3:DeleteObjectVersion", KEY)
        assert not may(world, train, "s3:PutObject", "decisions/e/d/20260101T000000Z-PROMOTE.json", if_none_match="*")


@pytest.mark.parametrize("env", ENVS)
def test_sagemaker_jobs_read_models_and_write_only_scratch(worlds: dict[str, PolicyWorld], env: str) -> None:
    world = worlds[env]
    sagemaker = world.role(role_name=f"my-mlops-{env}-sagemaker-execution")
    assert may(world, sagemaker, "s3:GetObject", KEY)
    assert may(world, sagemaker, "s3:PutObject", "pipelines/models/job/output/model.tar.gz")
    for key in (KEY, "decisions/e/d/20260101T000000Z-PROMOTE.json", "evaluation/c/1/report.json"):
        assert not may(world, sagemaker, "s3:PutObject", key, if_none_match="*"), key


@pytest.mark.parametrize("env", ENVS)
def test_only_the_analysis_writes_decisions_and_only_once(worlds: dict[str, PolicyWorld], env: str) -> None:
    world = worlds[env]
    record = "decisions/e/d/20260101T000000Z-PROMOTE.json"
    analysis = world.role(role_name=f"my-mlops-{env}-canary-analysis")
    shifter = world.role(role_name=f"my-mlops-{env}-traffic-shifter")
    assert may(world, analysis, "s3:PutObject", record, if_none_match="*")
    assert not may(world, analysis, "s3:PutObject", record)
    assert not may(world, analysis, "s3:DeleteObjectVersion", record)
    assert may(world, shifter, "s3:GetObject", record)
    assert not may(world, shifter, "s3:PutObject", record, if_none_match="*")
    assert may(world, shifter, "s3:PutObject", "traffic-actions/e/d/20260101T000000Z-PROMOTE.json", if_none_match="*")
    assert not may(world, analysis, "s3:PutObject", "traffic-actions/e/d/x.json", if_none_match="*")
