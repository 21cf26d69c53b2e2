"""`safedeploy cost`: the estimate follows the configuration and says which price table it used."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from safedeploy.cli import main
from safedeploy.operations.cost import PriceTable, estimate, estimate_from_config
from tests.support.configuration import two_environments, write_cdk_json

CONTEXT = two_environments()
TABLE = PriceTable.load("ap-northeast-2")


def line(result, prefix: str) -> float:  # type: ignore[no-untyped-def]
    (found,) = [item.monthly for item in result.lines if item.item.startswith(prefix)]
    return found


def test_instances_nat_and_fargate_follow_the_configuration() -> None:
    dev = CONTEXT["environments"]["dev"]
    result = estimate("dev", dev, TABLE)
    hours = TABLE["hours_per_month"]
    assert line(result, "SageMaker endpoint") == pytest.approx(
        2 * hours * TABLE["sagemaker_instance_hour"]["ml.m5.large"]
    )
    assert line(result, "Fargate") == pytest.approx(
        2 * hours * (0.5 * TABLE["fargate_vcpu_hour"] + 1 * TABLE["fargate_gb_hour"])
    )
    bigger = copy.deepcopy(dev)
    # A canary of 2 of 4 instances: the same half of the traffic, so the planned bake still fits.
    bigger.setdefault("endpoint", {}).update(instance_count=4, canary_size_instances=2)
    bigger.setdefault("serving", {})["nat_gateways"] = 2
    more = estimate("dev", bigger, TABLE)
    assert line(more, "SageMaker endpoint") == pytest.approx(2 * line(result, "SageMaker endpoint"))
    assert line(more, "NAT") - line(result, "NAT") == pytest.approx(hours * TABLE["nat_gateway_hour"])
    assert result.total == pytest.approx(sum(item.monthly for item in result.lines))


def test_prod_costs_more_than_dev_and_both_name_the_price_table() -> None:
    dev, prod = (estimate_from_config(CONTEXT, env) for env in ("dev", "prod"))
    assert prod.total > dev.total > 200
    for result in (dev, prod):
        assert "prices: ap-northeast-2, as of 2026-12-01" in result.render()


def test_an_unpriced_instance_type_is_one_line() -> None:
    dev = copy.deepcopy(CONTEXT["environments"]["dev"])
    dev.setdefault("endpoint", {})["instance_type"] = "ml.r5.24xlarge"
    with pytest.raises(ValueError, match=r"^environments\.dev\.endpoint\.instance_type: no ap-northeast-2 price for"):
        estimate("dev", dev, TABLE)


def test_a_region_without_a_table_gets_the_quantities_and_says_it_cannot_price_them() -> None:
    dev = copy.deepcopy(CONTEXT["environments"]["dev"])
    dev["region"] = "eu-west-1"
    result = estimate_from_config({**CONTEXT, "environments": {"dev": dev}}, "dev")
    assert result.total is None and all(item.monthly is None for item in result.lines)
    text = result.render()
    assert text.startswith(
        "environment dev: no price table for eu-west-1 (tables: ap-northeast-2); what runs, unpriced"
    )
    assert "6 endpoints x 2 zones x 730 h" in text and "price these lines with the AWS Pricing Calculator" in text


def test_every_always_on_resource_the_stacks_create_is_a_line() -> None:
    items = [item.item for item in estimate("dev", CONTEXT["environments"]["dev"], TABLE).lines]
    for billed in ("NAT gateways", "VPC interface endpoints", "Application Load Balancer", "AWS WAF web ACL",
                   "Fargate", "CloudWatch Logs", "KMS keys", "Secrets Manager"):  # fmt: skip
        assert any(item.startswith(billed) for item in items), billed


def test_the_cli_prints_the_estimate_and_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = str(write_cdk_json(tmp_path, CONTEXT))
    assert main(["cost", "--env", "prod", "--config", config]) == 0
    assert capsys.readouterr().out.startswith("environment prod: about ")
    assert main(["cost", "--env", "dev", "--config", config, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (document["region"], document["as_of"], document["currency"]) == ("ap-northeast-2", "2026-12-01", "USD")
    assert main(["cost", "--env", "qa", "--config", config]) == 2
    assert "environment 'qa' is not in cdk.json" in capsys.readouterr().err
