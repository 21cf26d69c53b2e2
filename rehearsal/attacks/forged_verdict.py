"""The forged-verdict attack: anyone with `events:PutEvents` announces PROMOTE for the endpoint's candidate.

The forged event is put on the default bus exactly as the canary analysis announces its verdicts, then handed to
the traffic shifter as its rule would deliver it (and as anyone with `lambda:InvokeFunction` could). The attack
fails when the shifter refuses it and the endpoint's traffic is what it was before.

Who acts is as in the account: the attacker's calls (reading the names, PutEvents, invoking the shifter) are
`iam_enforcement.ATTACKER`'s, the shifter's are its function's role's; reading the traffic before and after is the
test's own observation.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from safedeploy.canary.outputs import VERDICT_DETAIL_TYPE, VERDICT_EVENT_SOURCE
from safedeploy.canary.traffic import REFUSED, shift_traffic
from safedeploy.decision import Decision
from safedeploy.guardrails.deploy_target import read_parameter
from safedeploy.naming import Function, Naming
from safedeploy.parameters import Param
from safedeploy.s3_layout import decision_record_key
from safedeploy.strategies.ab import AB_TEST
from testbed import iam_enforcement


class AttackSucceeded(AssertionError):
    """The forged verdict was acted on."""


def forged_verdict_detail(endpoint_name: str, bucket: str, decision: str = Decision.PROMOTE) -> dict[str, str]:
    """A verdict with every field the analysis sends, pointing at a record nobody wrote."""
    deployment = "forged-deployment"
    return {
        "endpoint_name": endpoint_name,
        "deployment_id": deployment,
        "kind": AB_TEST.comparison,
        "decision": decision,
        "record_uri": f"s3://{bucket}/{decision_record_key(endpoint_name, deployment, '20260101T000000Z', decision)}",
    }


def _traffic(sm: Any, endpoint_name: str) -> dict[str, Any]:
    described = sm.describe_endpoint(EndpointName=endpoint_name)
    return {
        "config": described.get("EndpointConfigName"),
        "weights": {v["VariantName"]: v.get("CurrentWeight") for v in described.get("ProductionVariants", [])},
    }


def play_forged_verdict(clients: Callable[[str], Any], project: str, env: str, decision: str = Decision.PROMOTE) -> str:
    """Put a forged `decision` verdict on the bus, deliver it to the shifter; return the line that refused it."""
    ssm, sm = clients("ssm"), clients("sagemaker")
    shifter = Naming(project, env).function(Function.TRAFFIC_SHIFTER)
    with iam_enforcement.acting_as(iam_enforcement.ATTACKER):
        endpoint_name = read_parameter(ssm, project, env, Param.ENDPOINT_NAME)
        bucket = read_parameter(ssm, project, env, Param.ARTIFACTS_BUCKET)
        detail = forged_verdict_detail(endpoint_name, bucket, decision)
        entry = {"Source": VERDICT_EVENT_SOURCE, "DetailType": VERDICT_DETAIL_TYPE, "Detail": json.dumps(detail)}
        if clients("events").put_events(Entries=[entry]).get("FailedEntryCount"):
            raise AttackSucceeded("EventBridge refused the forged event itself; the shifter was never tested")
    iam_enforcement.attacker_invokes(shifter)
    before = _traffic(sm, endpoint_name)
    with iam_enforcement.as_lambda_function(shifter):
        outcome = shift_traffic(clients, project, env, VERDICT_DETAIL_TYPE, detail)
    after = _traffic(sm, endpoint_name)
    if outcome.action != REFUSED or after != before:
        raise AttackSucceeded(f"forged {decision} verdict was acted on: {outcome.action}: {outcome.detail}")
    return outcome.detail
