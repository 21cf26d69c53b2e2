"""Every configuration rule stops synth with one line that names the key path."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[3]
CONTEXT = json.loads((ROOT / "cdk.json").read_text())["context"]


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


def test_the_shipped_configuration_is_valid() -> None:
    config = load_config(CONTEXT)
    assert config.project == "my-mlops"
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
        (with_dev(quality_gate__min_auc=1.5), "environments.dev.quality_gate.min_auc: 1.5"),
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


def with_promotions(**promotes_to: str | None) -> dict[str, Any]:
    """The shipped environments plus copies of dev for any other name, with `promotes_to` set as given."""
    context = copy.deepcopy(CONTEXT)
    for name, target in promotes_to.items():
        base = context["environments"].get(name, context["environments"]["dev"])
        context["environments"][name] = {**copy.deepcopy(base), "promotes_to": target}
    return context


def test_a_three_environment_chain_is_valid() -> None:
    config = load_config(with_promotions(dev="staging", staging="prod"))
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
