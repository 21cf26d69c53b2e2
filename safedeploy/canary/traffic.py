"""What the traffic shifter does with one event: step an A/B test or end a shadow test on a verdict, or roll back.

Blue/green verdicts need no action here: SageMaker itself rolls back when the CanaryVerdict alarm fires. Events
for another environment's endpoint are refused rather than acted on, since the bus is shared by the account.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from safedeploy.canary.fleets import ComparisonKind
from safedeploy.canary.outputs import VERDICT_DETAIL_TYPE
from safedeploy.guardrails.ab_test import advance_ab
from safedeploy.guardrails.deploy_target import DeployTarget, read_parameter
from safedeploy.guardrails.rollback import rollback_endpoint
from safedeploy.guardrails.shadow import advance_shadow
from safedeploy.parameters import Param

ROLLBACK_DETAIL_TYPE = "Rollback Requested"


@dataclass(frozen=True)
class ShiftOutcome:
    endpoint_name: str
    action: str
    detail: str


def _text(detail: Mapping[str, Any], key: str) -> str:
    value = detail.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"event detail.{key} is missing or not text: {value!r}")
    return value


def shift_traffic(
    clients: Callable[[str], Any], project: str, env: str, detail_type: str, detail: Mapping[str, Any]
) -> ShiftOutcome:
    ssm, sm = clients("ssm"), clients("sagemaker")
    target = DeployTarget.load(ssm, project, env)
    endpoint_name = _text(detail, "endpoint_name")
    if endpoint_name != target.endpoint_name:
        raise ValueError(f"event for endpoint {endpoint_name!r}; this function serves {target.endpoint_name!r}")
    if detail_type == ROLLBACK_DETAIL_TYPE:
        bucket = read_parameter(ssm, project, env, Param.ARTIFACTS_BUCKET)
        reason = str(detail.get("reason") or "rollback requested")
        result = rollback_endpoint(sm, endpoint_name, reason=reason, s3=clients("s3"), bucket=bucket)
        return ShiftOutcome(endpoint_name, "rolled-back", result.summary())
    if detail_type != VERDICT_DETAIL_TYPE:
        raise ValueError(
            f"event detail-type {detail_type!r} is neither {VERDICT_DETAIL_TYPE!r} nor {ROLLBACK_DETAIL_TYPE!r}"
        )
    kind, decision = _text(detail, "kind"), _text(detail, "decision")
    if kind == ComparisonKind.AB:
        step = advance_ab(sm, endpoint_name, decision, target.guardrails.settings.ab_weights)
    elif kind == ComparisonKind.SHADOW:
        step = advance_shadow(sm, endpoint_name, decision)
    else:
        return ShiftOutcome(endpoint_name, "none", f"{kind} deployment: SageMaker acts on the verdict alarm itself")
    return ShiftOutcome(endpoint_name, step.action.value, step.detail)
