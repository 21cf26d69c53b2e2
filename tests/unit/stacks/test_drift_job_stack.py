"""The drift stack: hourly schedule, its Lambda, two alarms, no Model Monitor resources."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match, Template

from stacks.stage import EnvironmentStage


@pytest.fixture(scope="module")
def templates(stages: dict[str, EnvironmentStage]) -> dict[str, Template]:
    return {name: Template.from_stack(stage.drift) for name, stage in stages.items()}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_an_hourly_rule_runs_the_drift_lambda_with_the_configured_policy(
    templates: dict[str, Template], env: str
) -> None:
    template = templates[env]
    template.has_resource_properties("AWS::Events::Rule", {"ScheduleExpression": "rate(1 hour)"})
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "FunctionName": f"my-mlops-{env}-drift-check",
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "ENDPOINT_NAME": f"my-mlops-{env}-endpoint",
                        "DRIFT_ALPHA": "0.05",
                        "DRIFT_PERIOD_LOOKS": "720",
                        "DRIFT_SENSITIVITY": "0.1",
                        "DRIFT_ACCURACY_MARGIN": "0.02",
                    }
                )
            },
        },
    )
    for name, metric in (("drift", "DriftedColumns"), ("model-quality", "AccuracyDegraded")):
        template.has_resource_properties(
            "AWS::CloudWatch::Alarm",
            {"AlarmName": f"my-mlops-{env}-{name}", "MetricName": metric, "Namespace": "SafeDeploy/Drift"},
        )


def test_no_model_monitor_resource_and_no_wildcard_action(templates: dict[str, Template]) -> None:
    for template in templates.values():
        body = template.to_json()
        assert not [r for r in body["Resources"].values() if "Monitoring" in r["Type"] or "DataQuality" in r["Type"]]
        text = json.dumps(body)
        assert '"Action": "*"' not in text and '"sagemaker:*"' not in text
