"""A rolled-back package is marked and is not deployed again without the operator's explicit override."""

from __future__ import annotations

from typing import Any

import pytest

from safedeploy.cli import main
from safedeploy.guardrails import rolled_back
from safedeploy.guardrails.deploy import deploy_package
from safedeploy.guardrails.endpoint_status import EndpointWaiter
from safedeploy.guardrails.errors import DeploymentFailed, PackageRolledBack
from safedeploy.guardrails.rollback import rollback_endpoint
from tests.support.deploy_world import ENDPOINT, ENV, PROJECT, register_package
from tests.support.moto_sagemaker import EndpointUpdates


def test_a_rollback_marks_the_package_it_rolled_away_from(
    sm: Any, two_releases: list[str], waiter: EndpointWaiter
) -> None:
    result = rollback_endpoint(sm, ENDPOINT, reason="bad model live", waiter=waiter)

    first, second = two_releases
    assert result.rolled_back_package == second
    mark = rolled_back.mark_of(sm, second)
    assert mark is not None and mark.endswith(f"on {ENDPOINT}: bad model live")
    assert rolled_back.mark_of(sm, first) is None
    assert "is marked rolled back (deploying it again needs --allow-rolled-back)" in result.summary()


def test_a_marked_package_is_refused_without_the_override(
    sm: Any, two_releases: list[str], target_for: Any, waiter: EndpointWaiter
) -> None:
    rollback_endpoint(sm, ENDPOINT, waiter=waiter)

    with pytest.raises(PackageRolledBack, match=r"was rolled back .*--allow-rolled-back$"):
        deploy_package(sm, two_releases[1], target_for(), waiter)
    assert sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"] == f"{ENDPOINT}-v1"


def test_the_override_deploys_it_and_clears_the_mark_once_live(
    sm: Any, two_releases: list[str], target_for: Any, waiter: EndpointWaiter, progress: list[str]
) -> None:
    rollback_endpoint(sm, ENDPOINT, waiter=waiter)

    result = deploy_package(sm, two_releases[1], target_for(), waiter, allow_rolled_back=True)

    assert result.endpoint_config_name == f"{ENDPOINT}-v2"
    assert rolled_back.mark_of(sm, two_releases[1]) is None
    assert progress[-1] == f"{two_releases[1]} is live again: its rolled-back mark is cleared"


def test_sagemakers_auto_rollback_marks_the_candidate(
    sm: Any, target_for: Any, waiter: EndpointWaiter, updates: EndpointUpdates
) -> None:
    target = target_for()
    deploy_package(sm, register_package(sm), target, waiter)
    candidate = register_package(sm)
    updates.plan(ENDPOINT, "rollback", reason="CanaryVerdict alarm")

    with pytest.raises(DeploymentFailed, match="rolled back by SageMaker"):
        deploy_package(sm, candidate, target, waiter)

    assert "CanaryVerdict alarm" in (rolled_back.mark_of(sm, candidate) or "")
    with pytest.raises(PackageRolledBack):
        deploy_package(sm, candidate, target, waiter)


def test_the_cli_refuses_a_marked_package_with_exit_3(
    sm: Any, two_releases: list[str], waiter: EndpointWaiter, capsys: pytest.CaptureFixture[str]
) -> None:
    rollback_endpoint(sm, ENDPOINT, waiter=waiter)
    argv = ["deploy", "--project", PROJECT, "--env", ENV, "--package-arn", two_releases[1], "--poll-seconds", "0"]

    assert main(argv) == 3
    assert "--allow-rolled-back" in capsys.readouterr().err
    assert main([*argv, "--allow-rolled-back"]) == 0


def test_the_mark_fits_sagemakers_tag_value_rules() -> None:
    value = rolled_back.mark_value("2026-03-01T12:00:00+00:00", ENDPOINT, 'alarm "5xx" fired; see <dashboard>' * 20)
    assert len(value) <= 256
    assert '"' not in value and ";" not in value and "<" not in value
