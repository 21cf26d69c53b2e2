"""What `safedeploy doctor` looks for is what the stacks create: the canary function's name and the bootstrap
version the synthesized stacks require."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from aws_cdk import Stage
from aws_cdk.assertions import Template

from safedeploy.naming import DRIFT_SCHEDULE, Function, Naming
from safedeploy.operations import doctor
from stacks.stage import EnvironmentStage


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_doctor_names_the_canary_function_the_stack_creates(stages: dict[str, EnvironmentStage], env: str) -> None:
    functions = Template.from_stack(stages[env].guardrails).find_resources("AWS::Lambda::Function")
    names = {resource["Properties"].get("FunctionName") for resource in functions.values()}
    assert Naming("my-mlops", env).function(Function.CANARY_ANALYSIS) in names


def test_doctor_requires_the_bootstrap_version_the_stacks_require(stages: dict[str, EnvironmentStage]) -> None:
    outdir = Path(Stage.of(stages["dev"].storage).outdir)
    manifests = [path.read_text() for path in outdir.rglob("manifest.json")]
    required = {int(v) for text in manifests for v in re.findall(r'"requiresBootstrapStackVersion":\s*(\d+)', text)}
    assert required and max(required) == doctor.MIN_BOOTSTRAP_VERSION


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_doctor_names_the_drift_schedule_function_and_alarms_the_stack_creates(
    stages: dict[str, EnvironmentStage], env: str
) -> None:
    template = Template.from_stack(stages[env].drift)
    rules = {resource["Properties"].get("Name") for resource in template.find_resources("AWS::Events::Rule").values()}
    functions = template.find_resources("AWS::Lambda::Function").values()
    alarms = template.find_resources("AWS::CloudWatch::Alarm").values()
    naming = Naming("my-mlops", env)
    assert naming.resource(DRIFT_SCHEDULE) in rules
    assert naming.function(Function.DRIFT_CHECK) in {
        resource["Properties"].get("FunctionName") for resource in functions
    }
    names = {resource["Properties"].get("AlarmName") for resource in alarms}
    assert {naming.resource(alarm) for alarm in doctor.DRIFT_ALARMS} <= names
