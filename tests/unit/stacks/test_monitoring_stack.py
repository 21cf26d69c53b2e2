"""The monitoring stack: a dashboard with every promised widget, notifications scoped to this environment."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_cdk.assertions import Template

from stacks.stage import EnvironmentStage

ENVS = ("dev", "prod")


@pytest.fixture(scope="session")
def monitoring(stages: dict[str, EnvironmentStage]) -> dict[str, Template]:
    return {name: Template.from_stack(stage.monitoring) for name, stage in stages.items()}


def dashboard_body(template: Template) -> str:
    (dashboard,) = template.find_resources("AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]
    # Tokens (ARNs, names of other stacks' resources) make the body an Fn::Join; its literal parts hold the layout.
    return "".join(part if isinstance(part, str) else json.dumps(part) for part in body["Fn::Join"][1])


@pytest.mark.parametrize("env", ENVS)
def test_the_dashboard_shows_every_concern(monitoring: dict[str, Template], env: str) -> None:
    body = dashboard_body(monitoring[env])
    for needle in (
        "TriggeredRules",  # pipeline executions succeeded / failed, approvals requested
        "executions failed",
        'MetricName=\\"Invocations\\"',
        'MetricName=\\"Invocation4XXErrors\\"',
        'MetricName=\\"Invocation5XXErrors\\"',
        "CanaryStatistic",
        "CanaryBoundary",
        "CanaryVerdict",
        "RequestCount",
        "TargetResponseTime",
        "HealthyHostCount",
        "CPUUtilization",
        "MemoryUtilization",
        f"my-mlops-{env}-endpoint",
    ):
        assert needle in body, needle
    assert body.count('"type":"alarm"') == 2  # rollback alarms; drift and model-quality alarms


@pytest.mark.parametrize("env", ENVS)
def test_the_dashboard_splits_the_fleets_of_a_blue_green_deployment(monitoring: dict[str, Template], env: str) -> None:
    """Old and new fleet share the variant name; only the EndpointConfigName dimension separates them."""
    body = dashboard_body(monitoring[env])
    searches = re.findall(r"SEARCH\('(\{AWS/SageMaker,EndpointConfigName,EndpointName,VariantName\}[^']*)'", body)
    fleet_metrics = {re.search(r'MetricName=\\"(\w+)\\"', search).group(1) for search in searches}
    assert fleet_metrics == {"Invocations", "Invocation5XXErrors", "ModelLatency"}
    assert all(f'EndpointName=\\"my-mlops-{env}-endpoint\\"' in search for search in searches)


@pytest.mark.parametrize("env", ENVS)
def test_notifications_reach_an_encrypted_ops_topic(monitoring: dict[str, Template], env: str) -> None:
    template = monitoring[env]
    (topic,) = template.find_resources("AWS::SNS::Topic").values()
    assert topic["Properties"]["TopicName"] == f"my-mlops-{env}-ops"
    assert "KmsMasterKeyId" in topic["Properties"]
    rules = template.find_resources("AWS::Events::Rule")
    assert len(rules) == 6
    for rule in rules.values():
        (target,) = rule["Properties"]["Targets"]
        assert "InputTransformer" in target


def by_kind(template: Template, part: str) -> dict[str, Any]:
    """Each rule's `part` keyed by its detail-type, and by the pipeline state for the two pipeline rules."""
    found = {}
    for rule in template.find_resources("AWS::Events::Rule").values():
        pattern = rule["Properties"]["EventPattern"]
        kind = pattern["detail-type"][0]
        if kind == "CodePipeline Pipeline Execution State Change":
            kind = pattern["detail"]["state"][0]
        found[kind] = pattern if part == "pattern" else rule["Properties"]["Targets"][0]["InputTransformer"]
    return found


def test_every_rule_is_scoped_to_this_environment(monitoring: dict[str, Template]) -> None:
    by_type = by_kind(monitoring["dev"], "pattern")
    for state in ("FAILED", "SUCCEEDED"):
        assert by_type[state]["detail"] == {"pipeline": ["my-mlops-dev-pipeline"], "state": [state]}
    assert by_type["CodePipeline Action Execution State Change"]["detail"]["type"] == {"category": ["Approval"]}
    assert by_type["SageMaker Endpoint Deployment State Change"]["detail"] == {
        "EndpointName": ["my-mlops-dev-endpoint"]
    }
    assert by_type["SageMaker Model Package State Change"]["detail"] == {
        "ModelPackageGroupName": ["my-mlops-dev-models"]
    }
    assert by_type["CloudWatch Alarm State Change"]["detail"] == {"alarmName": [{"prefix": "my-mlops-dev-"}]}


def test_messages_are_sentences_with_the_event_fields(monitoring: dict[str, Template]) -> None:
    transformers = by_kind(monitoring["dev"], "transformer")
    alarm = transformers["CloudWatch Alarm State Change"]
    assert alarm["InputTemplate"] == '"Alarm <detail-alarmName> is <detail-state-value>: <detail-state-reason>"'
    assert alarm["InputPathsMap"]["detail-state-reason"] == "$.detail.state.reason"
    approval = transformers["CodePipeline Action Execution State Change"]["InputTemplate"]
    assert "<detail-stage>/<detail-action>" in approval and "safedeploy status --env dev" in approval
    failed = transformers["FAILED"]["InputTemplate"]
    assert "execution <detail-execution-id> FAILED" in failed and "safedeploy retry-stage NAME --env dev" in failed


def test_every_guardrails_alarm_reaches_the_ops_topic(
    stages: dict[str, EnvironmentStage], monitoring: dict[str, Template]
) -> None:
    """Alarms reach SNS through the alarm-state rule: every rollback alarm's name must fall under its prefix."""
    for env, stage in stages.items():
        (prefix,) = by_kind(monitoring[env], "pattern")["CloudWatch Alarm State Change"]["detail"]["alarmName"]
        alarms = Template.from_stack(stage.guardrails).find_resources("AWS::CloudWatch::Alarm").values()
        names = [alarm["Properties"]["AlarmName"] for alarm in alarms]
        assert len(names) == 3 and all(name.startswith(prefix["prefix"]) for name in names), names


def test_eventbridge_may_use_the_environment_key(stages: dict[str, EnvironmentStage]) -> None:
    """SNS needs the publisher to be allowed the topic's key; CDK's SnsTopic target adds that to the key policy."""
    storage = Template.from_stack(stages["dev"].storage)
    (key,) = storage.find_resources("AWS::KMS::Key").values()
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    granted = [s for s in statements if s.get("Principal") == {"Service": "events.amazonaws.com"}]
    assert granted and all(
        "kms:GenerateDataKey*" in s["Action"] or "kms:GenerateDataKey" in s["Action"] for s in granted
    )


@pytest.mark.parametrize("env", ENVS)
def test_model_latency_is_shown_with_statistics_sagemaker_documents(monitoring: dict[str, Template], env: str) -> None:
    """SageMaker lists ModelLatency's statistics as Average, Sum, Min, Max, Sample Count: a percentile may show no
    data at all."""
    body = dashboard_body(monitoring[env])
    statistics = re.findall(r"SEARCH\('[^']*ModelLatency[^']*', '(\w+)'", body)
    assert statistics and set(statistics) <= {"Average", "Sum", "Minimum", "Maximum", "SampleCount"}, statistics
