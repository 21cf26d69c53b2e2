"""The gateway's access mode, AWS WAF, and the API-key and feedback tables as synthesized."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Annotations, Match, Template

from safedeploy.errors import ConfigError
from safedeploy.naming import Naming
from serving.gateway.feedback_store import FeedbackStore
from stacks.serving.gateway_tables import API_KEYS_PARTITION_KEY, FEEDBACK_PARTITION_KEY
from stacks.stage import EnvironmentStage
from testbed import gateway_tables
from testbed.aws import SESSION, in_process_aws
from tests.unit.stacks.test_serving_stack import (
    CERTIFICATE_ARN,
    build_serving,
    listeners_by_port,
    only,
    policy_statements,
)

ENVS = ("dev", "prod")


@pytest.fixture(scope="module")
def serving(stages: dict[str, EnvironmentStage]) -> dict[str, Template]:
    return {name: Template.from_stack(stage.serving) for name, stage in stages.items()}


@pytest.fixture(scope="module")
def internet(cdk_context: dict[str, Any]) -> Template:
    stack = build_serving(
        cdk_context, "dev", serving={"certificate_arn": CERTIFICATE_ARN, "access": {"mode": "internet"}}
    )
    App.of(stack).synth()  # the cdk-nag gate on the internet-facing variant
    return Template.from_stack(stack)


def _load_balancer(template: Template) -> dict[str, Any]:
    return only(template.find_resources("AWS::ElasticLoadBalancingV2::LoadBalancer"))


def _ingress_cidrs(template: Template) -> set[tuple[str, int]]:
    (alb_group,) = [
        group["Properties"]
        for group in template.find_resources("AWS::EC2::SecurityGroup").values()
        if group["Properties"]["GroupDescription"].startswith("Inference gateway load balancer")
    ]
    return {(rule["CidrIp"], rule["FromPort"]) for rule in alb_group.get("SecurityGroupIngress", [])}


@pytest.mark.parametrize("env", ENVS)
def test_the_default_access_is_an_internal_load_balancer_for_the_vpc(serving: dict[str, Template], env: str) -> None:
    assert _load_balancer(serving[env])["Scheme"] == "internal"
    ports = {80} if env == "dev" else {80, 443}
    assert _ingress_cidrs(serving[env]) == {("10.0.0.0/16", port) for port in ports}


def test_internet_facing_access_serves_https_to_everyone(internet: Template) -> None:
    assert _load_balancer(internet)["Scheme"] == "internet-facing"
    assert _ingress_cidrs(internet) == {("0.0.0.0/0", 443), ("0.0.0.0/0", 80)}
    assert listeners_by_port(internet)[80]["DefaultActions"][0]["Type"] == "redirect"


def test_allowed_networks_reach_an_internal_gateway(cdk_context: dict[str, Any]) -> None:
    access = {"mode": "internal", "allow_http": True, "allowed_cidrs": ["172.16.0.0/12"]}
    template = Template.from_stack(build_serving(cdk_context, "dev", serving={"access": access}))
    assert _ingress_cidrs(template) == {("10.0.0.0/16", 80), ("172.16.0.0/12", 80)}


@pytest.mark.parametrize(
    ("serving", "problem"),
    [
        ({"access": {"mode": "internet"}}, r"certificate_arn: an internet-facing gateway .* HTTPS only"),
        ({"access": {"mode": "internal"}}, r"certificate_arn: no certificate, .*access\.allow_http: true"),
        ({"access": {"mode": "internal", "allowed_cidrs": ["0.0.0.0/0"]}}, "opens the internal load balancer"),
        ({"access": {"mode": "internal", "allowed_cidrs": ["10.1.0.0/33"]}}, "is not an IPv4 CIDR"),
        ({"access": {"mode": "internet", "allowed_cidrs": ["10.1.0.0/16"]}}, "allowed_cidrs applies to mode"),
        ({"access": {"mode": "public"}}, r"access\.mode"),
        ({"rate_limit": {"waf_requests_per_client": 5}}, "waf_requests_per_client"),
        ({"rate_limit": {"waf_window_seconds": 30}}, "waf_window_seconds"),
    ],
)
def test_unsafe_access_is_refused_at_synth(cdk_context: dict[str, Any], serving: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError, match=rf"^environments\.dev\.serving.*{problem}"):
        build_serving(cdk_context, "dev", serving=serving)


def test_plain_http_is_a_warned_choice(stages: dict[str, EnvironmentStage]) -> None:
    Annotations.from_stack(stages["dev"].serving).has_warning(
        "/my-mlops-dev/serving/FrontDoor/Alb/Http", Match.string_like_regexp("serving.access.allow_http is true")
    )


@pytest.mark.parametrize("env", ENVS)
def test_health_paths_are_not_served_to_callers(serving: dict[str, Template], env: str) -> None:
    rule = only(serving[env].find_resources("AWS::ElasticLoadBalancingV2::ListenerRule"))
    assert rule["Conditions"] == [{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/health/*"]}}]
    assert rule["Actions"][0]["Type"] == "fixed-response"
    assert rule["Actions"][0]["FixedResponseConfig"]["StatusCode"] == "404"


@pytest.mark.parametrize(("env", "limit"), [("dev", 1000), ("prod", 3000)])
def test_waf_guards_the_load_balancer_with_managed_rules_and_a_rate_limit(
    serving: dict[str, Template], stages: dict[str, EnvironmentStage], env: str, limit: int
) -> None:
    acl = only(serving[env].find_resources("AWS::WAFv2::WebACL"))
    assert acl["Scope"] == "REGIONAL" and acl["DefaultAction"] == {"Allow": {}}
    rules = {rule["Name"]: rule for rule in acl["Rules"]}
    assert set(rules) == {"RateLimitPerClient", "AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"}
    rate = rules["RateLimitPerClient"]
    assert rate["Statement"]["RateBasedStatement"] == {
        "AggregateKeyType": "IP",
        "Limit": limit,
        "EvaluationWindowSec": 300,
    }
    assert rate["Action"]["Block"]["CustomResponse"]["ResponseCode"] == 429
    assert rate["Priority"] == 0
    common = rules["AWSManagedRulesCommonRuleSet"]["Statement"]["ManagedRuleGroupStatement"]
    assert common["RuleActionOverrides"] == [{"Name": "SizeRestrictions_BODY", "ActionToUse": {"Count": {}}}]
    association = only(serving[env].find_resources("AWS::WAFv2::WebACLAssociation"))
    alb = stages[env].serving.front_door.load_balancer
    assert association["ResourceArn"] == {"Ref": stages[env].serving.get_logical_id(alb.node.default_child)}


@pytest.mark.parametrize("env", ENVS)
def test_waf_logs_to_an_encrypted_aws_waf_logs_group_without_api_keys(serving: dict[str, Template], env: str) -> None:
    logging = only(serving[env].find_resources("AWS::WAFv2::LoggingConfiguration"))
    (destination,) = logging["LogDestinationConfigs"]
    assert destination["Fn::Join"][1][-1] == f":log-group:aws-waf-logs-my-mlops-{env}-gateway"
    assert logging["RedactedFields"] == [{"SingleHeader": {"Name": "x-api-key"}}]
    groups = serving[env].find_resources("AWS::Logs::LogGroup")
    (waf_group,) = [g["Properties"] for g in groups.values() if g["Properties"]["LogGroupName"].startswith("aws-waf")]
    assert "KmsKeyId" in waf_group


@pytest.mark.parametrize(("env", "recovery"), [("dev", False), ("prod", True)])
def test_feedback_table_is_encrypted_expiring_and_recoverable_in_prod(
    serving: dict[str, Template], env: str, recovery: bool
) -> None:
    tables = {
        table["Properties"]["TableName"]: table["Properties"]
        for table in serving[env].find_resources("AWS::DynamoDB::GlobalTable").values()
    }
    feedback = tables[f"my-mlops-{env}-gateway-feedback"]
    assert feedback["KeySchema"] == [{"AttributeName": FEEDBACK_PARTITION_KEY, "KeyType": "HASH"}]
    assert feedback["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert feedback["SSESpecification"]["SSEEnabled"] is True
    assert "KMSMasterKeyId" in feedback["Replicas"][0]["SSESpecification"]
    pitr = feedback["Replicas"][0]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]
    assert pitr is recovery
    keys = tables[f"my-mlops-{env}-gateway-api-keys"]
    assert keys["KeySchema"] == [{"AttributeName": API_KEYS_PARTITION_KEY, "KeyType": "HASH"}]
    assert keys["Replicas"][0]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_the_tables_used_in_tests_have_the_stack_names_and_key_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    naming = Naming("my-mlops", "dev")
    with in_process_aws(monkeypatch):
        dynamodb = SESSION.client("dynamodb")
        names = gateway_tables.create_gateway_tables(dynamodb, naming)
        schemas = [dynamodb.describe_table(TableName=name)["Table"]["KeySchema"] for name in names]
    assert names == ("my-mlops-dev-gateway-api-keys", "my-mlops-dev-gateway-feedback")
    assert schemas == [
        [{"AttributeName": API_KEYS_PARTITION_KEY, "KeyType": "HASH"}],
        [{"AttributeName": FEEDBACK_PARTITION_KEY, "KeyType": "HASH"}],
    ]
    assert "attribute_not_exists(prediction_key)" in FeedbackStore._write.__code__.co_consts


@pytest.mark.parametrize("env", ENVS)
def test_the_task_reads_keys_and_writes_feedback_only(
    serving: dict[str, Template], stages: dict[str, EnvironmentStage], env: str
) -> None:
    stack = stages[env].serving
    statements = policy_statements(serving[env], stack.gateway.task_role)
    dynamo = {
        str(statement["Action"]): statement["Resource"]
        for statement in statements
        if str(statement["Action"]).startswith("dynamodb:")
    }
    tables = stack.tables
    assert dynamo == {
        "dynamodb:GetItem": {"Fn::GetAtt": [stack.get_logical_id(tables.api_keys.node.default_child), "Arn"]},
        "dynamodb:PutItem": {"Fn::GetAtt": [stack.get_logical_id(tables.feedback.node.default_child), "Arn"]},
    }
    environment = {
        variable["Name"]: variable["Value"]
        for variable in only(serving[env].find_resources("AWS::ECS::TaskDefinition"))["ContainerDefinitions"][0][
            "Environment"
        ]
    }
    assert set(environment) >= {"API_KEYS_TABLE", "FEEDBACK_TABLE", "RATE_LIMIT_PER_SECOND", "RATE_LIMIT_BURST"}
    assert "ALLOW_UNAUTHENTICATED" not in environment
