"""The scratch environment synthesizes offline, with no credentials, through the project's own app and cdk-nag gate,
and what it deploys is checked against a committed snapshot of the facts the suite's cost and assertions rest on.
The scratch copy is made from the tests' own dev (tests/support/configuration.py), not the shipped cdk.json's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template

from acceptance.scratch import STACKS, ScratchPlan, scratch_plan
from app import build_app
from safedeploy.guardrails.settings import GuardrailParameter
from stacks.stage import EnvironmentStage
from tests.support.configuration import two_environments

SNAPSHOT = Path(__file__).with_name("scratch_snapshot.json")
CONTEXT = two_environments()


@pytest.fixture(scope="module")
def plan() -> ScratchPlan:
    return scratch_plan(CONTEXT, "acc")


@pytest.fixture(scope="module")
def stage(plan: ScratchPlan, tmp_path_factory: pytest.TempPathFactory) -> EnvironmentStage:
    app = App(context={**plan.context, "aws:cdk:bundling-stacks": []}, outdir=str(tmp_path_factory.mktemp("cdk.out")))
    stages = build_app(app)
    app.synth()
    assert list(stages) == ["acc"]
    return stages["acc"]


def facts(stage: EnvironmentStage) -> dict[str, Any]:
    """What the run deploys and what its cost estimate and assertions assume."""
    deployed: list[Stack] = [getattr(stage, name) for name in STACKS]
    templates = {stack.stack_name: Template.from_stack(stack).to_json() for stack in deployed}
    resources = {name: template["Resources"] for name, template in templates.items()}
    parameters = [
        resource["Properties"]
        for stack in resources.values()
        for resource in stack.values()
        if resource["Type"] == "AWS::SSM::Parameter"
    ]
    config = next(p["Value"] for p in parameters if str(p.get("Name", "")).endswith("/deployment-config"))
    settings = GuardrailParameter.from_json(config).settings
    locks = sorted(
        resource["Properties"]["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]["Days"]
        for stack in resources.values()
        for resource in stack.values()
        if resource["Type"] == "AWS::S3::Bucket" and "ObjectLockConfiguration" in resource["Properties"]
    )
    retained = sorted(
        f"{stack_name}/{logical}"
        for stack_name, stack in resources.items()
        for logical, resource in stack.items()
        if resource.get("DeletionPolicy") == "Retain"
    )
    return {
        "stacks": sorted(templates),
        "termination_protection": sorted({bool(stack.termination_protection) for stack in deployed}),
        "endpoint": {
            "instance_type": settings.instance_type,
            "instance_count": settings.instance_count,
            "strategy": settings.strategy.name,
            "canary_size_instances": settings.canary_size_instances,
            "wait_interval_seconds": settings.wait_interval_seconds,
            "termination_wait_seconds": settings.termination_wait_seconds,
            "max_execution_timeout_seconds": settings.max_execution_timeout_seconds,
            "autoscaling_max": settings.autoscaling.max_instances,
        },
        "object_lock_days": locks,
        "retained_on_delete": retained,
    }


@pytest.mark.slow
def test_the_scratch_environment_matches_its_snapshot(stage: EnvironmentStage) -> None:
    found = facts(stage)
    assert found == json.loads(SNAPSHOT.read_text()), json.dumps(found, indent=2)


@pytest.mark.slow
def test_only_log_groups_and_locked_objects_outlive_the_teardown(stage: EnvironmentStage) -> None:
    """docs/acceptance.md's manual teardown names both: the Lambda log groups and the one-day locked bucket."""
    found = facts(stage)
    assert all("Logs" in logical for logical in found["retained_on_delete"]), found["retained_on_delete"]
    assert found["termination_protection"] == [False] and found["object_lock_days"] == [1]


def test_a_real_environment_cannot_be_the_scratch_one() -> None:
    for name in ("dev", "prod"):
        with pytest.raises(ValueError, match=r"cdk\.json does not define"):
            scratch_plan(CONTEXT, name)
    with pytest.raises(ValueError, match="FROM=nope"):
        scratch_plan(CONTEXT, "acc", base="nope")


def test_the_scratch_copy_keeps_the_base_environment_but_its_size_and_waits(plan: ScratchPlan) -> None:
    base = CONTEXT["environments"]["dev"]
    assert plan.raw.get("region") == base.get("region") and plan.raw.get("quality_gate") == base.get("quality_gate")
    assert plan.raw["endpoint"].get("alarms") == base["endpoint"].get("alarms")
    assert "promotes_to" not in plan.raw
    assert plan.stack_ids() == [f"{CONTEXT['project']}-acc/{stack}" for stack in STACKS]
