"""The guardrails stack: rollback alarms, the every-minute analysis, the verdict route and published settings."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from safedeploy.guardrails.settings import GuardrailParameter
from stacks.stage import EnvironmentStage

ENVS = ("dev", "prod")


@pytest.fixture(scope="session")
def guardrails(stages: dict[str, EnvironmentStage]) -> dict[str, Template]:
    return {name: Template.from_stack(stage.guardrails) for name, stage in stages.items()}


def alarms(template: Template) -> dict[str, dict[str, Any]]:
    found = template.find_resources("AWS::CloudWatch::Alarm").values()
    return {alarm["Properties"]["AlarmName"]: alarm["Properties"] for alarm in found}


@pytest.mark.parametrize("env", ENVS)
def test_three_rollback_alarms_and_a_silent_analysis_is_breaching(guardrails: dict[str, Template], env: str) -> None:
    by_name = alarms(guardrails[env])
    prefix = f"my-mlops-{env}"
    assert set(by_name) == {
        f"{prefix}-endpoint-5xx-rate",
        f"{prefix}-endpoint-model-latency",
        f"{prefix}-canary-verdict",
    }
    verdict = by_name[f"{prefix}-canary-verdict"]
    assert verdict["TreatMissingData"] == "breaching"
    # CloudWatch skips missing points while enough real ones remain in its evaluation range, so a minute without a
    # verdict is filled as 1 in the alarm's own expression (tests/unit/rehearsal/test_alarm_missing_data.py).
    expression, raw = sorted(verdict["Metrics"], key=lambda query: "Expression" not in query)
    assert (expression["Expression"], expression["ReturnData"], verdict["Threshold"]) == ("FILL(verdict, 1)", True, 1)
    assert raw["Id"] == "verdict" and raw["ReturnData"] is False
    stat = raw["MetricStat"]
    assert (stat["Metric"]["MetricName"], stat["Metric"]["Namespace"], stat["Stat"], stat["Period"]) == (
        "CanaryVerdict",
        "SafeDeploy/Canary",
        "Maximum",
        60,
    )
    assert stat["Metric"]["Dimensions"] == [{"Name": "EndpointName", "Value": f"{prefix}-endpoint"}]
    latency = by_name[f"{prefix}-endpoint-model-latency"]
    assert latency["Threshold"] == 500 * 1000  # ModelLatency is in microseconds
    # SageMaker documents ModelLatency's statistics as Average, Sum, Min, Max, Sample Count: no percentile
    assert (latency["MetricName"], latency["Statistic"], latency["TreatMissingData"]) == (
        "ModelLatency",
        "Average",
        "notBreaching",
    )
    assert "ExtendedStatistic" not in latency


@pytest.mark.parametrize("env", ENVS)
def test_the_5xx_alarm_is_the_documented_average_of_invocation_5xx_errors(
    guardrails: dict[str, Template], env: str
) -> None:
    """SageMaker's rollback-alarm example: Invocation5XXErrors (1 per 5xx, 0 otherwise) with Average, a rate."""
    alarm = alarms(guardrails[env])[f"my-mlops-{env}-endpoint-5xx-rate"]
    assert "Metrics" not in alarm  # no metric math
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"], alarm["Period"]) == (
        "AWS/SageMaker",
        "Invocation5XXErrors",
        "Average",
        60,
    )
    # cdk.json's alarms.error_rate_5xx_percent, as a fraction
    assert alarm["Threshold"] == pytest.approx({"dev": 0.05, "prod": 0.02}[env])
    assert alarm["Dimensions"] == [
        {"Name": "EndpointName", "Value": f"my-mlops-{env}-endpoint"},
        {"Name": "VariantName", "Value": "AllTraffic"},
    ]


@pytest.mark.parametrize("env", ENVS)
def test_ssm_deployment_config_names_the_alarms_and_the_canary_policy(
    guardrails: dict[str, Template], env: str
) -> None:
    (parameter,) = [
        resource["Properties"]
        for resource in guardrails[env].find_resources("AWS::SSM::Parameter").values()
        if resource["Properties"]["Name"] == f"/my-mlops/{env}/deployment-config"
    ]
    published = GuardrailParameter.from_json(parameter["Value"])
    assert set(published.alarm_names) == set(alarms(guardrails[env]))
    assert published.settings.canary.expected_requests_per_minute == {"dev": 100, "prod": 1000}[env]
    assert json.loads(parameter["Value"])["settings"]["strategy"] == "canary"


def test_the_analysis_runs_every_minute_and_verdicts_reach_the_shifter(guardrails: dict[str, Template]) -> None:
    template = guardrails["dev"]
    template.has_resource_properties("AWS::Events::Rule", {"ScheduleExpression": "rate(1 minute)"})
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["safedeploy.canary"],
                "detail-type": ["Canary Verdict"],
                "detail": {"endpoint_name": ["my-mlops-dev-endpoint"]},
            }
        },
    )
    for name in ("my-mlops-dev-canary-analysis", "my-mlops-dev-traffic-shifter"):
        template.has_resource_properties(
            "AWS::Lambda::Function", {"FunctionName": name, "Handler": "handler.handler", "Runtime": "python3.13"}
        )


def _statements(template: Template, function_name: str) -> list[dict[str, Any]]:
    functions = template.find_resources("AWS::Lambda::Function", {"Properties": {"FunctionName": function_name}})
    (function,) = functions.values()
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    return [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else actions


def test_metric_writes_are_limited_to_the_canary_namespace(guardrails: dict[str, Template]) -> None:
    statements = _statements(guardrails["dev"], "my-mlops-dev-canary-analysis")
    (put,) = [s for s in statements if "cloudwatch:PutMetricData" in _actions(s)]
    assert put["Condition"] == {"StringEquals": {"cloudwatch:namespace": ["SafeDeploy/Canary"]}}
    assert not any(action.endswith(":*") or action == "*" for s in statements for action in _actions(s))


def test_only_the_shifter_may_change_the_endpoint(guardrails: dict[str, Template]) -> None:
    analysis = {a for s in _statements(guardrails["dev"], "my-mlops-dev-canary-analysis") for a in _actions(s)}
    shifter = {a for s in _statements(guardrails["dev"], "my-mlops-dev-traffic-shifter") for a in _actions(s)}
    changes = {"sagemaker:UpdateEndpoint", "sagemaker:UpdateEndpointWeightsAndCapacities"}
    assert not analysis & changes
    assert changes <= shifter
    guardrails["dev"].has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": Match.array_with(["sagemaker:UpdateEndpoint"]),
                                "Resource": Match.array_with(
                                    [
                                        {
                                            "Fn::Join": [
                                                "",
                                                Match.array_with(
                                                    [Match.string_like_regexp("endpoint/my-mlops-dev-\\*")]
                                                ),
                                            ]
                                        }
                                    ]
                                ),
                            }
                        )
                    ]
                )
            }
        },
    )
