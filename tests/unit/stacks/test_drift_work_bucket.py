"""The gateway's drift histograms and the drift check's state live in the drift bucket, not the write-once one.

Each histogram object and each hourly state write is a new version: in prod's Object Lock bucket every one of them
would be kept for the retention period. The drift bucket has no Object Lock, expires the histograms a day after the
oldest hour any reader looks at (the skew check's week), and only the gateway writes them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from safedeploy.drift.skew import SKEW_DAYS
from safedeploy.drift.store import HISTOGRAM_DAYS
from safedeploy.parameters import Param
from safedeploy.s3_layout import histograms_root
from stacks.stage import EnvironmentStage
from tests.unit.stacks.test_app_synth import all_templates

ENVS = ("dev", "prod")


def listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def s3_statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (logical_id, statement)
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::IAM::Policy"
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
        if any(action.startswith("s3:") for action in listed(statement["Action"]))
    ]


@pytest.mark.parametrize("env", ENVS)
def test_the_drift_bucket_is_unlocked_and_expires_histograms_after_the_longest_read(
    stages: dict[str, EnvironmentStage], env: str
) -> None:
    storage = Template.from_stack(stages[env].storage).to_json()
    ((logical_id, bucket),) = [
        (i, r) for i, r in storage["Resources"].items() if r["Type"] == "AWS::S3::Bucket" and i.startswith("DriftWork")
    ]
    assert "ObjectLockEnabled" not in bucket["Properties"]
    rules = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    expiring = {rule.get("Prefix"): rule.get("ExpirationInDays") for rule in rules if "ExpirationInDays" in rule}
    assert expiring == {histograms_root(f"my-mlops-{env}-endpoint"): HISTOGRAM_DAYS}
    assert HISTOGRAM_DAYS > SKEW_DAYS  # the skew check reads a week back; the drift check the last hour
    parameters = {
        r["Properties"]["Name"]: r["Properties"]["Value"]
        for r in storage["Resources"].values()
        if r["Type"] == "AWS::SSM::Parameter"
    }
    assert parameters[f"/my-mlops/{env}/{Param.DRIFT_BUCKET.value}"] == {"Ref": logical_id}


@pytest.mark.parametrize("env", ENVS)
def test_only_the_gateway_writes_histograms_and_nothing_reaches_drift_keys_in_the_artifacts_bucket(
    stages: dict[str, EnvironmentStage], env: str
) -> None:
    histograms = histograms_root(f"my-mlops-{env}-endpoint")
    writers, readers = set(), set()
    for stack_name, template in all_templates(stages).items():
        if f"-{env}-" not in stack_name:
            continue
        for logical_id, statement in s3_statements(template):
            condition = json.dumps(statement.get("Condition", {}))
            for resource in listed(statement["Resource"]):
                # a ListBucket grant names the bucket and its prefix in the condition
                text = json.dumps(resource) + (condition if "s3:prefix" in condition else "")
                assert not ("Artifacts" in text and ("/drift/" in text or '"drift/' in text)), (stack_name, logical_id)
                if histograms not in text:
                    continue
                assert "DriftWork" in text, (stack_name, logical_id)
                actions = set(listed(statement["Action"]))
                (writers if "s3:PutObject" in actions else readers).add(stack_name)
                assert actions <= {"s3:PutObject", "s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"}, actions
    assert writers == {f"my-mlops-{env}-serving"}, writers
    # the drift check (its own stack) reads them; dev's QualityGate too (prod runs no quality gate)
    assert readers == {f"my-mlops-{env}-drift", *([f"my-mlops-{env}-pipeline"] if env == "dev" else [])}, readers
