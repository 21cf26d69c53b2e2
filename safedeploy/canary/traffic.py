"""What the traffic shifter does with one event: step an A/B test or end a shadow test on a verified verdict.

Blue/green verdicts need no action here: SageMaker itself rolls back when the CanaryVerdict alarm fires. An A/B or
shadow verdict moves traffic only once `verdict_check` has tied it to the analysis's decision record; anything else
(another environment's endpoint, a forged or replayed verdict, a bare rollback request) is refused with one line and
changes nothing. Rollbacks outside a verdict go through `safedeploy rollback`, which IAM authorizes and records.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from safedeploy.canary.outputs import VERDICT_DETAIL_TYPE
from safedeploy.canary.verdict_check import VerdictRefused, shown, text_field, verify_verdict
from safedeploy.decision import Decision, parse_decision
from safedeploy.guardrails.deploy_target import DeployTarget, read_parameter
from safedeploy.guardrails.experiment import advance_experiment
from safedeploy.parameters import Param
from safedeploy.strategies import comparisons, experiment_strategies

REFUSED = "refused"


@dataclass(frozen=True)
class ShiftOutcome:
    endpoint_name: str
    action: str
    detail: str


def shift_traffic(
    clients: Callable[[str], Any], project: str, env: str, detail_type: object, detail: object
) -> ShiftOutcome:
    """`detail_type` and `detail` are the event's, of any type: anything but a verified verdict is refused."""
    ssm = clients("ssm")
    target = DeployTarget.load(ssm, project, env, s3=clients("s3"))
    try:
        return _act_on_verdict(clients, target, read_parameter(ssm, project, env, Param.ARTIFACTS_BUCKET),
                               detail_type, detail)  # fmt: skip
    except VerdictRefused as refusal:
        return ShiftOutcome(target.endpoint_name, REFUSED, f"refused {shown(detail_type)} event: {refusal}")


def _act_on_verdict(
    clients: Callable[[str], Any], target: DeployTarget, bucket: str, detail_type: object, detail: object
) -> ShiftOutcome:
    if not isinstance(detail, Mapping):
        raise VerdictRefused(f"event detail is {type(detail).__name__}, not a JSON object")
    endpoint_name = text_field(detail, "endpoint_name")
    if endpoint_name != target.endpoint_name:
        raise VerdictRefused(
            f"event for endpoint {shown(endpoint_name)}; this function serves {target.endpoint_name!r}"
        )
    if detail_type != VERDICT_DETAIL_TYPE:
        raise VerdictRefused(
            f"only {VERDICT_DETAIL_TYPE!r} events backed by a decision record move traffic; roll back with "
            "`safedeploy rollback`"
        )
    kind = text_field(detail, "kind")
    if kind not in comparisons():
        raise VerdictRefused(f"event detail.kind {shown(kind)} is not one of {', '.join(comparisons())}")
    decision = text_field(detail, "decision")
    try:
        parse_decision(decision)
    except ValueError:
        raise VerdictRefused(f"event detail.decision {shown(decision)} is not one of {', '.join(Decision)}") from None
    strategy = experiment_strategies().get(kind)
    if strategy is None:
        return ShiftOutcome(endpoint_name, "none", f"{kind} deployment: SageMaker acts on the verdict alarm itself")
    verdict = verify_verdict(clients, target, bucket, detail)
    settings = target.guardrails.settings
    step = advance_experiment(
        clients("sagemaker"), endpoint_name, strategy, verdict.decision, settings, verdict.checked_at, target.marks
    )
    return ShiftOutcome(endpoint_name, step.action.value, f"{step.detail} (verdict {verdict.record_uri})")
