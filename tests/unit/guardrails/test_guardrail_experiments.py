"""Shadow and A/B experiments: how they start, how verdicts move them, and where they end."""

from __future__ import annotations

from typing import Any

import pytest

from safedeploy.decision import Decision, parse_decision
from safedeploy.guardrails import resource_tags
from safedeploy.guardrails.deploy import DeployAction, deploy_package
from safedeploy.guardrails.deploy_target import DeployTarget
from safedeploy.guardrails.endpoint_status import EndpointWaiter
from safedeploy.guardrails.errors import DeploymentFailed
from safedeploy.guardrails.experiment import advance_experiment
from safedeploy.guardrails.rollback import rollback_endpoint
from safedeploy.guardrails.settings import DeploymentSettings
from safedeploy.strategies.ab import AB_TEST
from safedeploy.strategies.experiments import StepAction
from safedeploy.strategies.shadow import SHADOW
from testbed.deploy_world import ENDPOINT, register_package

SCHEDULE = (5, 25, 50, 100)
# Each weight may step up at once (no hold), and the shadow copies 20 %.
AB = DeploymentSettings(strategy=AB_TEST, ab_weights=SCHEDULE, wait_interval_seconds=0)
SHADOWED = DeploymentSettings(strategy=SHADOW, shadow_sampling_percent=20)


def start(sm: Any, target_for: Any, waiter: EndpointWaiter, strategy: str) -> tuple[DeployTarget, list[str]]:
    """v1 serves alone (first deploys create the endpoint), then v2 starts as the experiment's candidate."""
    target = target_for(strategy=strategy, ab_weights=list(SCHEDULE), shadow_sampling_percent=20)
    packages = [register_package(sm), register_package(sm)]
    assert deploy_package(sm, packages[0], target, waiter).action is DeployAction.CREATED
    return target, packages


def weights(sm: Any) -> dict[str, float]:
    described = sm.describe_endpoint(EndpointName=ENDPOINT)
    return {variant["VariantName"]: variant["CurrentWeight"] for variant in described["ProductionVariants"]}


def settle(waiter: EndpointWaiter) -> str:
    snapshot = waiter.until_settled(ENDPOINT)
    assert snapshot is not None and snapshot.status == "InService"
    return snapshot.config_name


def test_ab_starts_with_the_first_weight_beside_the_live_model(
    sm: Any, target_for: Any, waiter: EndpointWaiter
) -> None:
    target, packages = start(sm, target_for, waiter, "ab")
    result = deploy_package(sm, packages[1], target, waiter)

    assert (result.action, result.experiment, result.endpoint_config_name) == (
        DeployAction.STARTED,
        "ab",
        f"{ENDPOINT}-v2-ab",
    )
    assert result.summary().startswith(f"ab-started: {ENDPOINT} serves {ENDPOINT}-v2-ab")
    variants = sm.describe_endpoint_config(EndpointConfigName=f"{ENDPOINT}-v2-ab")["ProductionVariants"]
    assert [(v["VariantName"], v["ModelName"], v["InitialVariantWeight"]) for v in variants] == [
        ("AllTraffic", f"{ENDPOINT}-v1", 95.0),
        ("v2", f"{ENDPOINT}-v2", 5.0),
    ]
    assert weights(sm) == {"AllTraffic": 95.0, "v2": 5.0}
    assert deploy_package(sm, packages[1], target, waiter).action is DeployAction.UNCHANGED


def test_ab_weights_follow_passing_verdicts_to_a_candidate_only_config(
    sm: Any, target_for: Any, waiter: EndpointWaiter
) -> None:
    target, packages = start(sm, target_for, waiter, "ab")
    deploy_package(sm, packages[1], target, waiter)

    steps = [advance_experiment(sm, ENDPOINT, AB_TEST, verdict, AB) for verdict in ("PROMOTE", "CONTINUE", "PROMOTE")]

    assert [step.action for step in steps] == [StepAction.WEIGHTS, StepAction.UNCHANGED, StepAction.WEIGHTS]
    assert weights(sm) == {"AllTraffic": 50.0, "v2": 50.0}
    assert advance_experiment(sm, ENDPOINT, AB_TEST, Decision.PROMOTE, AB).action is StepAction.PROMOTED
    assert settle(waiter) == f"{ENDPOINT}-v2"
    assert weights(sm) == {"AllTraffic": 1.0}
    tags = resource_tags.read_tags(sm, sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointArn"])
    assert tags[resource_tags.PACKAGE_ARN] == packages[1]
    assert tags[resource_tags.PREVIOUS_CONFIG] == f"{ENDPOINT}-v1"


def test_ab_rollback_drops_the_candidate_to_zero_then_serves_the_baseline(
    marks: Any, sm: Any, target_for: Any, waiter: EndpointWaiter
) -> None:
    target, packages = start(sm, target_for, waiter, "ab")
    deploy_package(sm, packages[1], target, waiter)
    advance_experiment(sm, ENDPOINT, AB_TEST, "PROMOTE", AB, marks=marks)

    dropped = advance_experiment(sm, ENDPOINT, AB_TEST, "ROLLBACK", AB, marks=marks)

    assert (dropped.action, dropped.detail) == (StepAction.WEIGHTS, "v2 25% -> 0% (rolled back)")
    assert weights(sm) == {"AllTraffic": 100.0, "v2": 0.0}
    assert advance_experiment(sm, ENDPOINT, AB_TEST, "CONTINUE", AB, marks=marks).action is StepAction.ROLLED_BACK
    assert settle(waiter) == f"{ENDPOINT}-v1"
    assert advance_experiment(sm, ENDPOINT, AB_TEST, "PROMOTE", AB, marks=marks).action is StepAction.NO_EXPERIMENT


def test_a_new_deploy_waits_for_the_running_experiment(sm: Any, target_for: Any, waiter: EndpointWaiter) -> None:
    target, packages = start(sm, target_for, waiter, "ab")
    deploy_package(sm, packages[1], target, waiter)
    with pytest.raises(DeploymentFailed, match=f"runs a ab experiment of {ENDPOINT}-v2; it ends on a canary verdict"):
        deploy_package(sm, register_package(sm), target, waiter)


def test_rollback_during_an_experiment_returns_to_its_baseline(
    marks: Any, sm: Any, target_for: Any, waiter: EndpointWaiter
) -> None:
    target, packages = start(sm, target_for, waiter, "ab")
    deploy_package(sm, packages[1], target, waiter)
    result = rollback_endpoint(sm, ENDPOINT, marks=marks, waiter=waiter)
    assert (result.from_config, result.to_config) == (f"{ENDPOINT}-v2-ab", f"{ENDPOINT}-v1")


def test_shadow_copies_the_sampled_share_to_the_candidate(sm: Any, target_for: Any, waiter: EndpointWaiter) -> None:
    target, packages = start(sm, target_for, waiter, "shadow")
    result = deploy_package(sm, packages[1], target, waiter)

    assert (result.action, result.experiment, result.endpoint_config_name) == (
        DeployAction.STARTED,
        "shadow",
        f"{ENDPOINT}-v2-shadow",
    )
    assert result.summary().startswith(f"shadow-started: {ENDPOINT} serves {ENDPOINT}-v2-shadow")
    config = sm.describe_endpoint_config(EndpointConfigName=f"{ENDPOINT}-v2-shadow")
    assert [(v["VariantName"], v["ModelName"], v["InitialVariantWeight"]) for v in config["ProductionVariants"]] == [
        ("AllTraffic", f"{ENDPOINT}-v1", 1.0)
    ]
    assert [
        (v["VariantName"], v["ModelName"], v["InitialVariantWeight"]) for v in config["ShadowProductionVariants"]
    ] == [("v2", f"{ENDPOINT}-v2", 0.2)]
    assert [v["VariantName"] for v in sm.describe_endpoint(EndpointName=ENDPOINT)["ShadowProductionVariants"]] == ["v2"]


def test_shadow_promotion_serves_the_candidate_alone(
    sm: Any, marks: Any, target_for: Any, waiter: EndpointWaiter
) -> None:
    target, packages = start(sm, target_for, waiter, "shadow")
    deploy_package(sm, packages[1], target, waiter)

    assert advance_experiment(sm, ENDPOINT, SHADOW, "CONTINUE", SHADOWED, marks=marks).action is StepAction.UNCHANGED
    assert advance_experiment(sm, ENDPOINT, SHADOW, Decision.PROMOTE, SHADOWED).action is StepAction.PROMOTED
    assert advance_experiment(sm, ENDPOINT, SHADOW, Decision.PROMOTE, SHADOWED).action is StepAction.BUSY
    assert settle(waiter) == f"{ENDPOINT}-v2"
    assert "ShadowProductionVariants" not in sm.describe_endpoint(EndpointName=ENDPOINT)


def test_shadow_rollback_serves_the_baseline_alone(
    sm: Any, marks: Any, target_for: Any, waiter: EndpointWaiter
) -> None:
    target, packages = start(sm, target_for, waiter, "shadow")
    deploy_package(sm, packages[1], target, waiter)
    assert advance_experiment(sm, ENDPOINT, SHADOW, "ROLLBACK", SHADOWED, marks=marks).action is StepAction.ROLLED_BACK
    assert settle(waiter) == f"{ENDPOINT}-v1"


def test_decisions_accept_text_and_the_enum() -> None:
    assert parse_decision(Decision.PROMOTE) is Decision.PROMOTE
    assert parse_decision("promote") is Decision.PROMOTE
    assert parse_decision(" rollback ") is Decision.ROLLBACK
    with pytest.raises(ValueError, match="decision 'ship it' is not one of PROMOTE, CONTINUE, ROLLBACK"):
        parse_decision("ship it")
