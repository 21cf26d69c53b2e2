"""What reaches the ops topic, one readable line per event: the rules filter on this environment's own pipeline,
endpoint, package group and alarms, and an input transformer turns each event into a sentence.

Alarm notifications go through EventBridge too (CloudWatch Alarm State Change), so this stack adds no action to
alarms owned by other stacks and works for alarms created later under the environment's name prefix.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sns as sns
from constructs import Construct

from safedeploy.naming import Naming

PIPELINE_FAILED = "PipelineFailed"
PIPELINE_SUCCEEDED = "PipelineSucceeded"
APPROVAL_WAITING = "ApprovalWaiting"


@dataclass(frozen=True)
class Notification:
    construct_id: str
    description: str
    pattern: events.EventPattern
    message: str


def _field(path: str) -> str:
    return events.EventField.from_path(path)


def _pipeline_finished(naming: Naming, construct_id: str, state: str, next_step: str) -> Notification:
    """Failed and succeeded are separate rules, so the dashboard can count failures on their own."""
    return Notification(
        construct_id,
        f"A pipeline execution {state.lower()}",
        events.EventPattern(
            source=["aws.codepipeline"],
            detail_type=["CodePipeline Pipeline Execution State Change"],
            detail={"pipeline": [naming.pipeline], "state": [state]},
        ),
        f"Pipeline {naming.pipeline} execution {_field('$.detail.execution-id')} {state}. {next_step}",
    )


def notifications(naming: Naming) -> list[Notification]:
    pipeline, endpoint, group = naming.pipeline, naming.endpoint, naming.model_package_group
    status = f"safedeploy status --env {naming.env}"
    return [
        _pipeline_finished(
            naming,
            PIPELINE_FAILED,
            "FAILED",
            f"Failed stage: {status}; retry it: safedeploy retry-stage NAME --env {naming.env}",
        ),
        _pipeline_finished(naming, PIPELINE_SUCCEEDED, "SUCCEEDED", f"Check: {status}"),
        Notification(
            APPROVAL_WAITING,
            "A manual approval is waiting for a person",
            events.EventPattern(
                source=["aws.codepipeline"],
                detail_type=["CodePipeline Action Execution State Change"],
                detail={"pipeline": [pipeline], "state": ["STARTED"], "type": {"category": ["Approval"]}},
            ),
            f"Approval waiting in {pipeline}: {_field('$.detail.stage')}/{_field('$.detail.action')}. "
            f"Review the candidate beside the live model: {status}",
        ),
        Notification(
            "EndpointDeployment",
            "The endpoint's deployment changed state (traffic shifts, baking, rollbacks)",
            events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Endpoint Deployment State Change"],
                detail={"EndpointName": [endpoint]},
            ),
            f"Endpoint {endpoint} deployment: {_field('$.detail.EndpointStatus')} on "
            f"{_field('$.detail.EndpointConfigName')}",
        ),
        Notification(
            "ModelPackageChanged",
            "A model package of this environment's group changed approval state",
            events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Model Package State Change"],
                detail={"ModelPackageGroupName": [group]},
            ),
            f"Model package {_field('$.detail.ModelPackageArn')} is {_field('$.detail.ModelApprovalStatus')}",
        ),
        Notification(
            "AlarmChanged",
            "An alarm of this environment changed state (rollback alarms included)",
            events.EventPattern(
                source=["aws.cloudwatch"],
                detail_type=["CloudWatch Alarm State Change"],
                detail={"alarmName": events.Match.prefix(f"{naming.prefix}-")},
            ),
            f"Alarm {_field('$.detail.alarmName')} is {_field('$.detail.state.value')}: "
            f"{_field('$.detail.state.reason')}",
        ),
    ]


def route_notifications(scope: Construct, naming: Naming, topic: sns.ITopic) -> list[events.Rule]:
    return [
        events.Rule(
            scope,
            notification.construct_id,
            description=notification.description,
            event_pattern=notification.pattern,
            targets=[targets.SnsTopic(topic, message=events.RuleTargetInput.from_text(notification.message))],
        )
        for notification in notifications(naming)
    ]
