"""`safedeploy status`: one environment at a glance, gathered read-only from CodePipeline, the registry, the
endpoint and the canary's decision records (the same places the playbook's manual checks looked).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from safedeploy import registry
from safedeploy.guardrails import resource_tags
from safedeploy.guardrails.deploy_target import read_optional_parameter, read_parameter
from safedeploy.guardrails.endpoint_status import describe_endpoint
from safedeploy.operations.pipeline_actions import pending_approvals, stage_states
from safedeploy.parameters import Param

Clients = Callable[[str], Any]
CANDIDATE_VARIABLE = "MODEL_PACKAGE_ARN"
DECISIONS_PREFIX = "decisions"


def environment_status(clients: Clients, project: str, env: str) -> dict[str, Any]:
    ssm = clients("ssm")
    pipeline = read_parameter(ssm, project, env, Param.PIPELINE_NAME)
    endpoint_name = read_parameter(ssm, project, env, Param.ENDPOINT_NAME)
    group = read_parameter(ssm, project, env, Param.MODEL_PACKAGE_GROUP)
    bucket = read_optional_parameter(ssm, project, env, Param.ARTIFACTS_BUCKET)
    return {
        "project": project,
        "env": env,
        "pipeline": _pipeline(clients, pipeline, group),
        "endpoint": _endpoint(clients("sagemaker"), endpoint_name),
        "last_canary_decision": _last_decision(clients("s3"), bucket, endpoint_name) if bucket else None,
    }


def _pipeline(clients: Clients, pipeline: str, group: str) -> dict[str, Any]:
    codepipeline = clients("codepipeline")
    state = codepipeline.get_pipeline_state(name=pipeline)
    executions = codepipeline.list_pipeline_executions(pipelineName=pipeline, maxResults=5)
    running = [e for e in executions.get("pipelineExecutionSummaries", []) if e.get("status") == "InProgress"]
    approvals = []
    for approval in pending_approvals(state):
        candidate = _candidate_package(codepipeline, pipeline, approval.execution_id)
        approvals.append(
            {
                "stage": approval.stage,
                "action": approval.action,
                "execution_id": approval.execution_id,
                "candidate": _package_summary(clients, candidate),
                "live": _package_summary(clients, registry.latest_package(clients("sagemaker"), group, "Approved")),
            }
        )
    return {
        "name": pipeline,
        "stages": [asdict(stage) for stage in stage_states(state)],
        "running_executions": [execution["pipelineExecutionId"] for execution in running],
        "pending_approvals": approvals,
    }


def _candidate_package(codepipeline: Any, pipeline: str, execution_id: str | None) -> str | None:
    if not execution_id:
        return None
    runs = codepipeline.list_action_executions(pipelineName=pipeline, filter={"pipelineExecutionId": execution_id})
    for run in runs.get("actionExecutionDetails", []):
        variables = run.get("output", {}).get("outputVariables", {})
        if CANDIDATE_VARIABLE in variables:
            return str(variables[CANDIDATE_VARIABLE])
    return None


def _package_summary(clients: Clients, package_arn: str | None) -> dict[str, Any] | None:
    if not package_arn:
        return None
    sm = clients("sagemaker")
    return {
        "arn": package_arn,
        "version": package_arn.rsplit("/", 1)[-1],
        "status": registry.approval_status(sm, package_arn),
        "metrics": registry.package_metrics(sm, clients("s3"), package_arn),
    }


def _endpoint(sm: Any, endpoint_name: str) -> dict[str, Any]:
    snapshot = describe_endpoint(sm, endpoint_name)
    if snapshot is None:
        return {"name": endpoint_name, "status": "NotFound"}
    package = resource_tags.read_tags(sm, snapshot.arn).get(resource_tags.PACKAGE_ARN)
    total = sum(variant.current_weight for variant in snapshot.variants) or 1.0
    return {
        "name": endpoint_name,
        "status": snapshot.status,
        "config": snapshot.config_name,
        "deploying": snapshot.pending_config_name,
        "package_arn": package,
        "package_version": package.rsplit("/", 1)[-1] if package else None,
        "traffic_percent": {v.name: round(100 * v.current_weight / total, 1) for v in snapshot.variants},
        "shadow_variants": [variant.name for variant in snapshot.shadow_variants],
    }


def _last_decision(s3: Any, bucket: str, endpoint_name: str) -> dict[str, Any] | None:
    """The newest canary decision record of the endpoint (keys carry the time and the decision)."""
    newest: dict[str, Any] | None = None
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=f"{DECISIONS_PREFIX}/{endpoint_name}/"):
        for item in page.get("Contents", []):
            if newest is None or item["LastModified"] > newest["LastModified"]:
                newest = item
    if newest is None:
        return None
    name = newest["Key"].rsplit("/", 1)[-1].removesuffix(".json")
    stamp, _, decision = name.partition("-")
    return {"decision": decision, "at": stamp, "record": f"s3://{bucket}/{newest['Key']}"}
