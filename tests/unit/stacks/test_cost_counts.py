"""`safedeploy cost` counts what the stacks create: its per-environment counts against the synthesized templates."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template

from safedeploy.operations import cost
from stacks.stage import EnvironmentStage


def resources(stage: EnvironmentStage, kind: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for stack in stage.node.children:
        if hasattr(stack, "template_options"):  # a Stack
            found += Template.from_stack(stack).find_resources(kind).values()
    return found


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_estimates_counts_are_the_templates(stages: dict[str, EnvironmentStage], env: str) -> None:
    stage = stages[env]
    interface = [item for item in resources(stage, "AWS::EC2::VPCEndpoint")
                 if item["Properties"].get("VpcEndpointType") == "Interface"]  # fmt: skip
    assert len(interface) == cost.INTERFACE_ENDPOINTS
    zones = {subnet["Properties"]["AvailabilityZone"]["Fn::Select"][0]
             for subnet in resources(stage, "AWS::EC2::Subnet")}  # fmt: skip
    assert len(zones) == cost.AVAILABILITY_ZONES
    assert len(resources(stage, "AWS::KMS::Key")) == cost.KMS_KEYS
    assert len(resources(stage, "AWS::SecretsManager::Secret")) == cost.SECRETS
    assert len(resources(stage, "AWS::CloudWatch::Alarm")) == cost.ALARMS
    (web_acl,) = resources(stage, "AWS::WAFv2::WebACL")
    assert len(web_acl["Properties"]["Rules"]) == cost.WAF_RULES
    assert len(resources(stage, "AWS::EC2::NatGateway")) == {"dev": 1, "prod": 2}[env]  # serving.nat_gateways
