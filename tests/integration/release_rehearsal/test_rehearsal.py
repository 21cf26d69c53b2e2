"""The end-to-end rehearsal as `make rehearse` plays it: the good candidate is promoted, the bad one rolled back by
the canary analysis, the good one deployed to prod from its own verified copy, every attack refused with one line,
and nothing is lost on the way."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rehearsal.__main__ import run

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_a_good_candidate_is_promoted_and_a_bad_one_rolled_back(tmp_path: Path) -> None:
    lines: list[str] = []
    checks = run(tmp_path, say=lines.append)
    assert checks == dict.fromkeys(checks, True), checks
    assert {
        "good candidate Approved",
        "good candidate serves 100 %",
        "bad candidate rolled back",
        "live model unchanged after the rollback",
        "every model package kept",
        "every evaluation report kept",
        "every decision record kept",
        "prod deployed the package dev approved",
        "prod serves its own verified copy",
        "every attack refused with one line",
        "nothing deployed by an attack",
        "every approval record kept",
        "every model artifact version kept",
    } <= set(checks)
    timeline = json.loads((tmp_path / "timeline.json").read_text())
    assert timeline["environments"] == ["dev", "prod"]
    prod = timeline["releases"][-1]
    assert (prod["environment"], prod["package_arn"], prod["result"]) == (
        "prod",
        timeline["releases"][1]["package_arn"],
        "live",
    )
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
