"""The end-to-end rehearsal as `make rehearse` plays it: the good candidate is promoted, the bad one rolled back by
the canary analysis, the good one deployed along the configured chain, each environment serving its own verified
copy, every attack refused with one line, and nothing is lost on the way. The chain is cdk.json's; a test of its own
plays a three-environment chain with the second example model and a linear dev."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rehearsal.__main__ import run
from rehearsal.scenario import rehearsal_world
from rehearsal.trust_chain import release_through_chain
from rehearsal.world import rehearsed_chain, rehearsed_context
from testbed import iam_enforcement
from tests.support.configuration import ETA_MODEL, three_environments, two_environments, write_cdk_json

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_a_good_candidate_is_promoted_and_a_bad_one_rolled_back(tmp_path: Path) -> None:
    lines: list[str] = []
    checks = run(tmp_path, say=lines.append)
    assert checks == dict.fromkeys(checks, True), checks
    origin, *later = rehearsed_chain(rehearsed_context())
    names = " and ".join(later)
    assert {
        "good candidate Approved",
        "good candidate serves 100 %",
        "bad candidate rolled back",
        "live model unchanged after the rollback",
        "every model package kept",
        "every evaluation report kept",
        "every decision record kept",
        "the gateway answered every request",
        f"{names} deployed the package {origin} approved",
        f"{names}: each serves its own verified copy",
        "every attack refused with one line",
        "nothing deployed by an attack",
        "every approval record kept",
        "every model artifact version kept",
    } <= set(checks)
    timeline = json.loads((tmp_path / "timeline.json").read_text())
    assert timeline["environments"] == sorted([origin, *later])
    promoted = timeline["releases"][-len(later) :]
    good_package = timeline["releases"][1]["package_arn"]
    assert [(item["environment"], item["package_arn"], item["result"]) for item in promoted] == [
        (name, good_package, "live") for name in later
    ]
    attacks = {attack["attack"]: attack for attack in timeline["attacks"]}
    assert set(attacks) == {
        "self-approved package",
        "foreign package group",
        "forged approver in release.json",
        "release.json pushed to dev",
        "direct ApprovalSync invocation",
        "forged verdict event",
        "tampered artifact",
    }
    assert all(attack["refused"] for attack in attacks.values())
    assert "has no approval record" in attacks["self-approved package"]["line"]
    assert "does not match the approval records'" in attacks["forged approver in release.json"]["line"]
    assert "recorded at registration and approval" in attacks["tampered artifact"]["line"]
    assert "no decision record at" in attacks["forged verdict event"]["line"]
    good, bad = timeline["releases"][1], timeline["releases"][2]
    assert good["deploy_exit_code"] == 0 and all(minute["verdict_metric"] == 0 for minute in good["minutes"])
    # The canary found it: its verdict alarm fired (SageMaker rolls back on the first rollback alarm to fire).
    assert bad["deploy_exit_code"] == 4 and bad["minutes"][-1]["alarm"] == "ALARM my-mlops-dev-canary-verdict"
    assert bad["minutes"][-1]["decision"] == "ROLLBACK"
    last = bad["minutes"][-1]["statistics"]  # the harm shows in at least one guarded metric's crossing
    assert any(metric["statistic"] >= metric["boundary"] for metric in last.values() if metric["statistic"] is not None)
    # the good candidate served on (the bad one's baseline), so its report says it was promoted
    for name, outcome in (("good", "promoted"), ("bad", "rolled back on the canary verdict")):
        assert (tmp_path / f"canary-{name}.png").read_bytes().startswith(b"\x89PNG")
        assert f"<b>{outcome}</b>" in (tmp_path / f"canary-{name}.html").read_text()
    assert any("minute" in line and "ROLLBACK" in line for line in lines)


def test_a_three_environment_chain_is_played_in_order_with_another_model_and_strategy(tmp_path: Path) -> None:
    """Staging between dev and prod: dev promotes to staging, staging deploys it, a person approves its forwarding,
    and prod deploys what staging forwarded; every call allowed by the synthesized IAM. The model is the second
    example (eta/: five features, JSON, a value), dev deploys linearly with a 900 s bake: cdk.json alone says so."""
    context = three_environments({**two_environments(), "model": ETA_MODEL})
    context["environments"]["dev"]["endpoint"] |= {
        "strategy": "linear",
        "wait_interval_seconds": 900,
        "canary": {"require_power": False},
    }
    (tmp_path / "work").mkdir()
    lines: list[str] = []
    config_file = write_cdk_json(tmp_path, context)
    with rehearsal_world(tmp_path / "work", lines.append, 7, config_file=config_file) as rehearsal:
        assert [world.naming.env for world in rehearsal.chain] == ["dev", "staging", "prod"]
        assert rehearsal.world.contract.content_type == "application/json"
        live = rehearsal.release("live model", None)
        released = release_through_chain(rehearsal, live)
        forwarded = rehearsal.repository(rehearsal.prod).commits
        denials = iam_enforcement.recorded()
    assert [(outcome.environment, outcome.result) for outcome in released] == [("staging", "live"), ("prod", "live")]
    assert len(forwarded) == 1 and live.package_arn in forwarded[0]["files"]["release.json"].decode()
    assert not denials, denials
    order = [line.split("] ", 1)[1].split(":", 1)[0] for line in lines if "] " in line and ": " in line]
    assert order.index("staging") < order.index("prod")


def test_a_model_trained_by_a_sagemaker_pipeline_is_verified_and_deployed_like_any_other(tmp_path: Path) -> None:
    """dev's flags.use_sm_pipeline: the Train build upserts the SDK's definition of the example's pipeline, which is
    played on moto (testbed/moto_pipelines.py); the package the build then registers carries the same evidence as a
    build-trained one, so dev's Deploy and prod's verify and serve it the same way, every call allowed by the IAM."""
    context = two_environments()
    context["environments"]["dev"]["flags"] = {"use_sm_pipeline": True}
    (tmp_path / "work").mkdir()
    lines: list[str] = []
    with rehearsal_world(
        tmp_path / "work", lines.append, 11, config_file=write_cdk_json(tmp_path, context)
    ) as rehearsal:
        live = rehearsal.release("pipeline model", None)
        released = release_through_chain(rehearsal, live)
        (execution,) = rehearsal.pipeline_executions
        denials = iam_enforcement.recorded()
    assert live.result == "live", live.result
    assert [(outcome.environment, outcome.result) for outcome in released] == [("prod", "live")]
    assert (execution.status, [step["StepName"] for step in execution.steps]) == (
        "Succeeded",
        ["Train", "Evaluate", "CheckQuality"],
    )
    assert not denials, denials
