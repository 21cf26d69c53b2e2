"""Every configuration rule stops synth with one line that names the key path.

Each test changes the tests' own dev -> prod configuration (tests/support/configuration.py), not the shipped cdk.json.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import botocore.session
import pytest

from safedeploy.environment_config import CONNECTION_PROVIDERS, load_config
from safedeploy.errors import ConfigError
from safedeploy.lambda_actions.quality_gate import QualityPolicy
from tests.support.configuration import three_environments, two_environments

ROOT = Path(__file__).resolve().parents[3]
CONTEXT = two_environments()


def with_dev(**changes: Any) -> dict[str, Any]:
    context = copy.deepcopy(CONTEXT)
    dev = context["environments"]["dev"]
    for dotted, value in changes.items():
        target = dev
        *parents, leaf = dotted.split("__")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = value
    return context


def test_what_an_environment_does_not_state_takes_the_defaults() -> None:
    config = load_config(CONTEXT)
    assert config.project == CONTEXT["project"]
    assert set(config.environments) == {"dev", "prod"}
    dev, prod = config.environments["dev"], config.environments["prod"]
    assert dev.region == "ap-northeast-2" and dev.account == ""
    assert dev.promotes_to == "prod" and prod.promotes_to is None
    assert prod.removal_policy == "retain" and prod.termination_protection


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        (with_dev(region="nowhere-1"), "environments.dev.region: 'nowhere-1': unknown region"),
        (with_dev(colour="blue"), "environments.dev.colour: unknown key"),
        (with_dev(pipeline__colour="blue"), "environments.dev.pipeline.colour: unknown key"),
        (with_dev(account="12345"), "environments.dev.account: '12345'"),
        (with_dev(termination_protection="yes"), "environments.dev.termination_protection: 'yes'"),
        (with_dev(removal_policy="maybe"), "environments.dev.removal_policy: 'maybe'"),
        (with_dev(pipeline__log_retention_days=31), "environments.dev.pipeline.log_retention_days: 31"),
        (with_dev(pipeline__branch="has space"), "environments.dev.pipeline.branch: 'has space'"),
        (with_dev(quality_gate__min_auc="0.8"), "environments.dev.quality_gate: min_auc: '0.8' must be a number"),
        (
            with_dev(quality_gate__min_precision=0.8),
            "environments.dev.quality_gate.min_precision: the model reports no 'precision' (model.metrics: auc,",
        ),
        (with_dev(serving__cpu=300), "environments.dev.serving: cpu 300 is not a Fargate size"),
        (with_dev(serving__memory_mib=8192), "environments.dev.serving: memory_mib 8192 does not fit cpu 512"),
        (with_dev(serving__max_count=1), "environments.dev.serving: max_count 1 is below desired_count 2"),
        (with_dev(serving__nat_gateways=0), "environments.dev.serving.nat_gateways: 0"),
        (with_dev(serving__certificate_arn="arn:aws:iam::x"), "environments.dev.serving.certificate_arn"),
        (
            with_dev(feature_store__use_existing_feature_group=True, feature_store__enable_feature_group=True),
            "environments.dev.feature_store: use_existing_feature_group needs feature_group_name",
        ),
        (with_dev(flags__use_feature_store=True), "environments.dev: flags.use_feature_store needs feature_store"),
        (with_dev(promotes_to="staging"), "environments.dev.promotes_to: 'staging' is not a defined environment"),
        (with_dev(endpoint__instance_count=-1), "environments.dev.endpoint.instance_count"),
        (with_dev(drift__skew_blocks_approval="yes"), "environments.dev.drift.skew_blocks_approval: 'yes'"),
    ],
)
def test_a_bad_value_names_its_key(context: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(context)
    message = str(raised.value)
    assert message.startswith(expected), message
    assert "\n" not in message


def test_prod_must_be_retained() -> None:
    context = copy.deepcopy(CONTEXT)
    context["environments"]["prod"]["removal_policy"] = "destroy"
    with pytest.raises(ConfigError, match=r"^environments\.prod: prod must keep removal_policy 'retain'"):
        load_config(context)


def test_prod_must_lock_its_artifacts() -> None:
    context = copy.deepcopy(CONTEXT)
    del context["environments"]["prod"]["artifact_lock_days"]
    with pytest.raises(ConfigError, match=r"^environments\.prod: prod must lock its approved artifacts"):
        load_config(context)
    context["environments"]["prod"]["artifact_lock_days"] = -1
    with pytest.raises(ConfigError, match=r"artifact_lock_days"):
        load_config(context)


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ({"project": "My_Project", "environments": CONTEXT["environments"]}, "project: 'My_Project'"),
        ({"project": "my-mlops"}, "environments: missing"),
        ({"project": "my-mlops", "environments": {"dev": "x"}}, "environments.dev: 'x' must be an object"),
        ({"project": "my-mlops", "environments": {"Dev!": {}}}, "environments.Dev!: environment name"),
    ],
)
def test_app_level_rules(context: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError, match=f"^{expected}"):
        load_config(context)


def test_synth_stops_with_one_line_and_no_traceback() -> None:
    """What an infra engineer sees from `cdk synth` when cdk.json is wrong."""
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps(with_dev(region="nowhere-1")), "CDK_OUTDIR": "/nonexistent"}
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("cdk.json:")]
    assert lines == [lines[0]] and "environments.dev.region: 'nowhere-1'" in lines[0]
    assert "Traceback" not in result.stderr


def test_a_percentage_canary_that_is_really_half_the_traffic_stops_synth() -> None:
    context = with_dev(endpoint__canary_size_percent=10)
    del context["environments"]["dev"]["endpoint"]["canary_size_instances"]
    with pytest.raises(ConfigError) as caught:
        load_config(context)
    assert str(caught.value) == (
        "environments.dev.endpoint.canary_size_percent: 10 % of 2 instances is 1 instance, 50 % of traffic, more "
        "than 2x the 10 % intended; size it in whole instances (canary_size_instances: 1), or use at least 5 instances"
    )


def test_synth_prints_each_environments_real_traffic_share() -> None:
    from app import traffic_shares

    first_bake = "of traffic in the first bake (asked 1 instance; steps"
    assert traffic_shares(load_config(CONTEXT)) == [
        f"dev: canary: 1 of 2 instances per step = 50.0 % {first_bake} 50, 100 %)",
        f"prod: canary: 1 of 3 instances per step = 33.3 % {first_bake} 33, 100 %)",
    ]


def test_synth_prints_each_planned_bake_and_warns_where_require_power_lets_a_weaker_one_through() -> None:
    from app import bake_reports

    weak = with_dev(
        endpoint__strategy="linear", endpoint__wait_interval_seconds=900, endpoint__canary__require_power=False
    )
    lines = bake_reports(load_config(weak))
    assert [line.split(":", 1)[0] for line in lines] == ["dev", "warning", *(["prod"] * (len(lines) - 2))]
    assert lines[0].startswith("dev: bake 900 s at ")
    assert lines[1].startswith("warning: dev: canary.require_power is false and a bake of 900 s stays below")


def test_synth_prints_the_warnings_constructs_add_inside_a_stage() -> None:
    from aws_cdk import Annotations, App, Stack, Stage

    from app import synthesis_warnings

    app = App()
    stack = Stack(Stage(app, "dev"), "serving")
    Annotations.of(stack).add_warning_v2("test:plain-http", "listens on plain HTTP")
    Annotations.of(stack).add_info("only information")
    assert synthesis_warnings(app.synth()) == ["warning: dev/serving: listens on plain HTTP [ack: test:plain-http]"]


GITHUB = {
    "kind": "codeconnections",
    "provider": "GitHub",
    "connection_arn_parameter": "/my-mlops/dev/source-connection-arn",
    "repository": "example-org/my-mlops",
}


def test_the_source_defaults_to_codecommit() -> None:
    assert load_config(CONTEXT).environments["dev"].pipeline.source.kind == "codecommit"


def test_a_connection_source_is_accepted_for_the_training_environment() -> None:
    source = load_config(with_dev(pipeline__source=GITHUB)).environments["dev"].pipeline.source
    assert (source.kind, source.owner, source.name) == ("codeconnections", "example-org", "my-mlops")
    gitlab = {**GITHUB, "provider": "GitLab", "repository": "group/sub-group/project"}
    nested = load_config(with_dev(pipeline__source=gitlab)).environments["dev"].pipeline.source
    assert (nested.owner, nested.name) == ("group/sub-group", "project")


def test_the_connection_providers_are_codeconnections_provider_types() -> None:
    model = botocore.session.get_session().get_service_model("codeconnections")
    assert set(CONNECTION_PROVIDERS) <= set(model.shape_for("ProviderType").enum)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"kind": "svn"}, "environments.dev.pipeline.source: Input tag 'svn' found using 'kind' does not match"),
        ({**GITHUB, "provider": "Gitea"}, "environments.dev.pipeline.source.provider: 'Gitea': Input should be"),
        ({**GITHUB, "repository": "a/b/c"},
         "environments.dev.pipeline.source: repository 'a/b/c': GitHub repositories are 'owner/name'"),
        ({**GITHUB, "repository": "just-a-name"}, "environments.dev.pipeline.source.repository: 'just-a-name'"),
        ({**GITHUB, "connection_arn_parameter": "arn:aws:codeconnections:ap-northeast-2:111122223333:connection/x"},
         "environments.dev.pipeline.source.connection_arn_parameter: 'arn:aws:codeconnections"),
        ({k: v for k, v in GITHUB.items() if k != "connection_arn_parameter"},
         "environments.dev.pipeline.source.connection_arn_parameter: Field required"),
        ({"kind": "codecommit", "repository": "a/b"}, "environments.dev.pipeline.source.repository: unknown key"),
    ],
)  # fmt: skip
def test_a_bad_source_stops_synth_with_one_line(source: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(with_dev(pipeline__source=source))
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_a_promoted_to_environment_cannot_take_a_connection_source() -> None:
    """Promote commits release.json through the CodeCommit API; CodeConnections has no operation that commits."""
    context = copy.deepcopy(CONTEXT)
    context["environments"]["prod"]["pipeline"]["source"] = GITHUB
    with pytest.raises(ConfigError) as error:
        load_config(context)
    assert str(error.value).startswith("environments.prod.pipeline.source.kind: 'codeconnections': dev's Promote")


def test_codeconnections_has_no_operation_that_writes_to_a_repository() -> None:
    """The reason for the refusal above, read from the service model rather than assumed."""
    operations = botocore.session.get_session().get_service_model("codeconnections").operation_names
    assert not [name for name in operations if any(word in name for word in ("Commit", "Put", "File", "Push"))]


def test_a_connection_source_is_refused_where_codepipeline_does_not_offer_it() -> None:
    with pytest.raises(ConfigError) as error:
        load_config(with_dev(pipeline__source=GITHUB, region="ap-northeast-3"))
    assert str(error.value) == (
        "environments.dev: pipeline.source: CodePipeline's CodeConnections source action is not available in "
        "ap-northeast-3; use 'codecommit' there"
    )


def with_promotions(**promotes_to: str | None) -> dict[str, Any]:
    """dev and prod plus copies of dev for any other name, with `promotes_to` set as given."""
    context = copy.deepcopy(CONTEXT)
    for name, target in promotes_to.items():
        base = context["environments"].get(name, context["environments"]["dev"])
        context["environments"][name] = {**copy.deepcopy(base), "promotes_to": target}
    return context


def test_a_three_environment_chain_is_valid() -> None:
    config = load_config(three_environments(CONTEXT))
    assert config.chain_of("prod") == ["dev", "staging", "prod"]
    assert config.origin_of("prod").name == "dev" and config.source_of("prod").name == "staging"


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        (with_promotions(dev="dev"), "environments.dev.promotes_to: 'dev': an environment cannot promote to itself"),
        (
            with_promotions(dev="qa", qa="staging", staging="dev"),
            "environments.staging.promotes_to: 'dev' closes the cycle dev -> qa -> staging -> dev",
        ),
        (with_promotions(dev="staging", staging="dev"), "environments.staging.promotes_to: 'dev' closes the cycle"),
        (with_promotions(qa="prod"), "environments.prod: promoted to from several environments (dev, qa)"),
        (with_promotions(dev=None), "environments.prod: no environment promotes to it; prod never trains"),
        (with_promotions(dev="staging", staging=None), "environments.prod: no environment promotes to it"),
    ],
)
def test_a_broken_promotion_chain_is_one_line(context: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(context)
    assert str(raised.value).startswith(expected), str(raised.value)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"auc": 0.7, "max_regression": 0.01}, "quality_gate: unknown key 'auc'; allowed: max_regression, min_<"),
        ({"min_auc": float("nan"), "max_regression": 0.01}, "quality_gate: min_auc: nan must be a number"),
        ({"min_auc": 0.7, "max_regression": 2}, "quality_gate.max_regression: 2: Input should be less than or equal"),
    ],
)
def test_the_gate_refuses_what_synth_refuses(settings: dict[str, float], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        QualityPolicy.from_settings(settings)
    with pytest.raises(ConfigError):
        load_config(with_dev(quality_gate=settings))
