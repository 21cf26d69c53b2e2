"""Which deployment the analysis judges: guarded ones only, each identified by its config and its start time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.sagemaker.models import sagemaker_backends

from safedeploy.canary.analysis import analyze_endpoint
from safedeploy.canary.fleets import find_comparison
from safedeploy.guardrails import resource_tags
from safedeploy.guardrails.deploy import deploy_package
from safedeploy.guardrails.deploy_target import DeployTarget
from safedeploy.guardrails.endpoint_status import EndpointWaiter, describe_endpoint
from safedeploy.guardrails.experiment import advance_experiment
from safedeploy.guardrails.rollback import rollback_endpoint
from safedeploy.guardrails.rolled_back import RolledBackMarks
from safedeploy.lambda_actions.aws_clients import AwsClients
from safedeploy.strategies.ab import AB_TEST
from safedeploy.strategies.shadow import SHADOW
from testbed.aws import REGION
from testbed.blue_green import BUCKET, Deployment
from testbed.deploy_world import ENDPOINT, ENV, PROJECT, provision_parameters, register_package
from testbed.moto_sagemaker import endpoint_updates, start_baking
from tests.unit.canary.conftest import HEALTHY
from tests.unit.canary.test_canary_analysis import HARMFUL


def decision_keys(clients: AwsClients) -> list[str]:
    listed = clients("s3").list_objects_v2(Bucket=BUCKET, Prefix=f"decisions/{ENDPOINT}/")
    return [item["Key"] for item in listed.get("Contents", [])]


def second_release(clients: AwsClients, **settings: Any) -> DeployTarget:
    """Deploy two package versions with these settings, as the pipeline would; the second one is guarded."""
    sm = clients("sagemaker")
    provision_parameters(clients("ssm"), settings)
    target = DeployTarget.load(clients("ssm"), PROJECT, ENV, s3=clients("s3"))
    waiter = EndpointWaiter(sm, poll_seconds=0, progress=lambda _: None, sleep=lambda _: None)
    for _ in range(2):
        deploy_package(sm, register_package(sm), target, waiter)
    return target


def test_a_retry_of_the_same_version_is_a_new_deployment(
    blue_green: Callable[..., Deployment], clients: AwsClients
) -> None:
    """The first attempt was rolled back; the retry of config-v2 must not inherit that rollback at its first bake."""
    first = blue_green()
    outcome = first.analyze()
    for _ in range(10):
        first.serve_minute(1000, HEALTHY, HARMFUL)
        outcome = first.analyze()
    assert outcome.decision == "ROLLBACK"
    sm = clients("sagemaker")
    endpoint_updates(REGION).finish(ENDPOINT, "rollback")
    assert sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"] == "config-v1"

    endpoint_updates(REGION).plan(ENDPOINT, "succeed", polls=10**9)
    arn = sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointArn"]
    resource_tags.mark_guarded(sm, arn, "config-v2")
    sm.update_endpoint(EndpointName=ENDPOINT, EndpointConfigName="config-v2")
    endpoint = sagemaker_backends[DEFAULT_ACCOUNT_ID][REGION].endpoints[ENDPOINT]
    endpoint.pending_deployment_summary["StartTime"] = first.started_at + timedelta(minutes=30)  # the retry, later
    retry = Deployment(clients, endpoint.pending_deployment_summary["StartTime"])
    start_baking(REGION, ENDPOINT, retry.started_at)
    retry.serve_minute(1000, HEALTHY, HEALTHY)

    again = retry.analyze()

    assert again.decision == "CONTINUE", again.detail
    assert again.record["deployment_id"] != outcome.record["deployment_id"]
    assert again.record["endpoint_config_name"] == outcome.record["endpoint_config_name"] == "config-v2"
    assert again.record["deployment_started_at"] == retry.started_at.isoformat()
    assert {key.split("/")[2] for key in decision_keys(clients)} == {
        outcome.record["deployment_id"],
        again.record["deployment_id"],
    }


def test_an_update_no_deploy_guarded_is_not_analysed(
    blue_green: Callable[..., Deployment], clients: AwsClients
) -> None:
    deployment = blue_green(guarded=False)
    deployment.serve_minute(1000, HEALTHY, HARMFUL)
    outcome = deployment.analyze()
    assert (outcome.decision, outcome.verdict_metric) == (None, 0)
    assert "without a guarded deploy" in outcome.detail
    assert decision_keys(clients) == []


def test_a_manual_rollback_is_not_analysed_as_a_canary(clients: AwsClients) -> None:
    sm = clients("sagemaker")
    target = second_release(clients, strategy="canary", wait_interval_seconds=60)  # a guarded canary of v2, live
    endpoint_updates(REGION).plan(ENDPOINT, "succeed", polls=10**9)

    rollback_endpoint(
        sm, ENDPOINT, marks=RolledBackMarks(clients("s3"), BUCKET), reason="operator"
    )  # plain UpdateEndpoint back to v1
    snapshot = describe_endpoint(sm, ENDPOINT)
    assert snapshot is not None and snapshot.pending_config_name == f"{ENDPOINT}-v1"
    found = find_comparison(sm, snapshot, target.guardrails.settings)

    assert isinstance(found, str) and "without a guarded deploy" in found
    outcome = analyze_endpoint(clients, PROJECT, ENV, snapshot.pending_started_at + timedelta(minutes=3))
    assert outcome.verdict_metric == 0 and outcome.record_uri is None


def test_the_ab_share_follows_the_current_weights(clients: AwsClients) -> None:
    sm = clients("sagemaker")
    target = second_release(clients, strategy="ab", ab_weights=[5, 25, 100])
    settings = target.guardrails.settings

    def share() -> Any:
        found = find_comparison(sm, describe_endpoint(sm, ENDPOINT), settings)  # type: ignore[arg-type]
        assert not isinstance(found, str), found
        return found

    first = share()
    assert first.strategy is AB_TEST and (first.candidate_share, first.expected_fraction) == (0.05, 0.05)
    advance_experiment(sm, ENDPOINT, AB_TEST, "PROMOTE", settings.model_copy(update={"wait_interval_seconds": 0}))
    stepped = share()
    assert stepped.candidate_share == 0.25
    assert stepped.traffic_since is not None and stepped.traffic_since >= first.traffic_since  # type: ignore[operator]
    assert stepped.deployment_id == first.deployment_id  # a weight step is the same deployment


def test_a_shadow_candidate_gets_a_copy_of_its_sampled_share(clients: AwsClients) -> None:
    sm = clients("sagemaker")
    target = second_release(clients, strategy="shadow", shadow_sampling_percent=25)
    found = find_comparison(sm, describe_endpoint(sm, ENDPOINT), target.guardrails.settings)  # type: ignore[arg-type]
    assert not isinstance(found, str), found
    assert found.strategy is SHADOW and not found.share_can_grow
    assert (found.candidate_share, found.expected_fraction) == (0.25, 0.2)  # 25 copies per 100 served: 20 of 125
    assert found.deployment_id.startswith(f"{ENDPOINT}-v2-shadow@")
