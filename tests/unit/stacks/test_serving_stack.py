from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk.assertions import Annotations, Match, Template
from constructs import IConstruct

from infra.nag import enable_security_checks
from safedeploy.environment_config import ServingConfig, load_config
from safedeploy.errors import ConfigError
from safedeploy.naming import Naming
from stacks.serving_stack import ServingStack
from stacks.stage import EnvironmentStage
from stacks.storage_stack import StorageStack

ENVS = ("dev", "prod")
CERTIFICATE_ID = "0f0e0d0c-aaaa-bbbb-cccc-123456789abc"
CERTIFICATE_ARN = f"arn:aws:acm:ap-northeast-2:111122223333:certificate/{CERTIFICATE_ID}"


@pytest.fixture(scope="session")
def serving(stages: dict[str, EnvironmentStage]) -> dict[str, Template]:
    return {name: Template.from_stack(stage.serving) for name, stage in stages.items()}


@pytest.fixture(scope="session")
def serving_config(cdk_context: dict[str, Any]) -> dict[str, ServingConfig]:
    return {name: env.serving for name, env in load_config(cdk_context).environments.items()}


def build_serving(cdk_context: dict[str, Any], env: str, **overrides: Any) -> ServingStack:
    """A small app of one environment's storage and serving stacks, with `environments.<env>` keys overridden."""
    context = copy.deepcopy(cdk_context)
    serving_overrides = overrides.pop("serving", {})
    context["environments"][env].update(overrides)
    context["environments"][env]["serving"].update(serving_overrides)
    config = load_config(context)
    env_config, model = config.environments[env], config.model
    app = App(context={"aws:cdk:bundling-stacks": []})
    enable_security_checks(app)
    naming = Naming("my-mlops", env)
    where = Environment(account=env_config.account or None, region=env_config.region)
    storage = StorageStack(app, "storage", naming=naming, env_config=env_config, model=model, env=where)
    return ServingStack(
        app, "serving", naming=naming, env_config=env_config, storage=storage, contract=model.contract, env=where
    )


@pytest.fixture(scope="module")
def dev_with_certificate(cdk_context: dict[str, Any]) -> Template:
    stack = build_serving(cdk_context, "dev", serving={"certificate_arn": CERTIFICATE_ARN})
    App.of(stack).synth()  # runs the cdk-nag gate on the HTTPS variant too
    return Template.from_stack(stack)


def ref(construct: IConstruct) -> dict[str, str]:
    return {"Ref": Stack.of(construct).get_logical_id(construct.node.default_child)}


def only(resources: dict[str, Any]) -> dict[str, Any]:
    (resource,) = resources.values()
    return resource["Properties"]


def container(template: Template) -> dict[str, Any]:
    (definition,) = only(template.find_resources("AWS::ECS::TaskDefinition"))["ContainerDefinitions"]
    return definition


def listeners_by_port(template: Template) -> dict[int, dict[str, Any]]:
    listeners = template.find_resources("AWS::ElasticLoadBalancingV2::Listener").values()
    return {listener["Properties"]["Port"]: listener["Properties"] for listener in listeners}


def policy_statements(template: Template, role: IConstruct) -> list[dict[str, Any]]:
    role_ref = ref(role)
    return [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if role_ref in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


@pytest.mark.parametrize("env", ENVS)
def test_tasks_run_in_private_subnets_without_public_ips(
    serving: dict[str, Template], stages: dict[str, EnvironmentStage], env: str
) -> None:
    network = only(serving[env].find_resources("AWS::ECS::Service"))["NetworkConfiguration"]["AwsvpcConfiguration"]
    private = [ref(subnet) for subnet in stages[env].serving.network.vpc.private_subnets]
    assert network["AssignPublicIp"] == "DISABLED"
    assert network["Subnets"] == private and len(private) == 2


@pytest.mark.parametrize(("env", "nat_gateways"), [("dev", 1), ("prod", 2)])
def test_nat_gateways_follow_the_environment(
    serving: dict[str, Template], serving_config: dict[str, ServingConfig], env: str, nat_gateways: int
) -> None:
    assert serving_config[env].nat_gateways == nat_gateways
    serving[env].resource_count_is("AWS::EC2::NatGateway", nat_gateways)


@pytest.mark.parametrize("env", ENVS)
def test_vpc_flow_logs_capture_all_traffic(serving: dict[str, Template], env: str) -> None:
    serving[env].has_resource_properties(
        "AWS::EC2::FlowLog",
        {"ResourceType": "VPC", "TrafficType": "ALL", "LogDestinationType": "cloud-watch-logs"},
    )


@pytest.mark.parametrize("env", ENVS)
def test_s3_and_dynamodb_are_reached_through_gateway_endpoints_from_private_subnets(
    serving: dict[str, Template], stages: dict[str, EnvironmentStage], env: str
) -> None:
    endpoints = serving[env].find_resources("AWS::EC2::VPCEndpoint").values()
    gateways = [e["Properties"] for e in endpoints if e["Properties"]["VpcEndpointType"] == "Gateway"]
    assert sorted(e["ServiceName"]["Fn::Join"][1][-1] for e in gateways) == [".dynamodb", ".s3"]
    private_tables = [
        {"Ref": Stack.of(subnet).get_logical_id(subnet.node.find_child("RouteTable"))}
        for subnet in stages[env].serving.network.vpc.private_subnets
    ]
    assert all(endpoint["RouteTableIds"] == private_tables for endpoint in gateways)


@pytest.mark.parametrize("env", ENVS)
def test_the_apis_the_tasks_call_have_private_interface_endpoints(serving: dict[str, Template], env: str) -> None:
    endpoints = serving[env].find_resources("AWS::EC2::VPCEndpoint").values()
    interfaces = [e["Properties"] for e in endpoints if e["Properties"]["VpcEndpointType"] == "Interface"]
    services = sorted(json.dumps(e["ServiceName"]).split(".")[-1].strip('"]}') for e in interfaces)
    assert services == ["api", "api", "dkr", "logs", "runtime", "secretsmanager"]  # ecr.api, sagemaker.api ...
    assert all(e["PrivateDnsEnabled"] is True for e in interfaces)


@pytest.mark.parametrize("env", ENVS)
def test_cluster_has_container_insights(serving: dict[str, Template], env: str) -> None:
    serving[env].has_resource_properties(
        "AWS::ECS::Cluster", {"ClusterSettings": [{"Name": "containerInsights", "Value": "enabled"}]}
    )


@pytest.mark.parametrize("env", ENVS)
def test_failed_deployments_roll_back(serving: dict[str, Template], env: str) -> None:
    deployment = only(serving[env].find_resources("AWS::ECS::Service"))["DeploymentConfiguration"]
    assert deployment["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
    assert deployment["MinimumHealthyPercent"] == 100


@pytest.mark.parametrize("env", ENVS)
def test_load_balancer_routes_only_to_ready_tasks_on_the_gateway_port(serving: dict[str, Template], env: str) -> None:
    target_group = only(serving[env].find_resources("AWS::ElasticLoadBalancingV2::TargetGroup"))
    assert target_group["HealthCheckPath"] == "/health/ready"
    assert (target_group["Port"], target_group["TargetType"]) == (8080, "ip")
    (mapping,) = only(serving[env].find_resources("AWS::ECS::Service"))["LoadBalancers"]
    assert mapping["ContainerPort"] == 8080
    assert container(serving[env])["PortMappings"][0]["ContainerPort"] == 8080


@pytest.mark.parametrize("env", ENVS)
def test_task_size_and_count_come_from_the_config(
    serving: dict[str, Template], serving_config: dict[str, ServingConfig], env: str
) -> None:
    config = serving_config[env]
    task = only(serving[env].find_resources("AWS::ECS::TaskDefinition"))
    assert (task["Cpu"], task["Memory"]) == (str(config.cpu), str(config.memory_mib))
    assert only(serving[env].find_resources("AWS::ECS::Service"))["DesiredCount"] == config.desired_count


@pytest.mark.parametrize("env", ENVS)
def test_autoscaling_tracks_targets_between_desired_and_max_count(
    serving: dict[str, Template], serving_config: dict[str, ServingConfig], env: str
) -> None:
    target = only(serving[env].find_resources("AWS::ApplicationAutoScaling::ScalableTarget"))
    assert (target["MinCapacity"], target["MaxCapacity"]) == (
        serving_config[env].desired_count,
        serving_config[env].max_count,
    )
    policies = serving[env].find_resources("AWS::ApplicationAutoScaling::ScalingPolicy").values()
    metrics = {
        policy["Properties"]["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"][
            "PredefinedMetricType"
        ]
        for policy in policies
        if policy["Properties"]["PolicyType"] == "TargetTrackingScaling"
    }
    assert metrics == {"ECSServiceAverageCPUUtilization", "ALBRequestCountPerTarget"}


@pytest.mark.parametrize("env", ENVS)
def test_task_role_may_only_invoke_describe_and_read_the_tags_of_its_own_endpoint(
    serving: dict[str, Template], stages: dict[str, EnvironmentStage], env: str
) -> None:
    (statement,) = [
        statement
        for statement in policy_statements(serving[env], stages[env].serving.gateway.task_role)
        if "sagemaker:InvokeEndpoint" in statement["Action"]
    ]
    assert sorted(statement["Action"]) == [
        "sagemaker:DescribeEndpoint",
        "sagemaker:InvokeEndpoint",
        "sagemaker:ListTags",
    ]
    arn = statement["Resource"]["Fn::Join"][1]
    assert arn[-1] == f":endpoint/my-mlops-{env}-endpoint"
    assert "*" not in json.dumps(statement["Resource"])


@pytest.mark.parametrize("env", ENVS)
def test_task_role_writes_only_its_drift_histograms_and_reads_only_baselines(
    serving: dict[str, Template], stages: dict[str, EnvironmentStage], env: str
) -> None:
    statements = policy_statements(serving[env], stages[env].serving.gateway.task_role)
    s3 = {
        action: statement["Resource"]["Fn::Join"][1][-1]
        for statement in statements
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
        if action.startswith("s3:")
    }
    assert s3 == {
        "s3:PutObject": f"/drift/my-mlops-{env}-endpoint/histograms/*",
        "s3:GetObject": "/models/*/drift-baseline.json",
    }
    buckets = {
        action: json.dumps(statement["Resource"])
        for statement in statements
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
        if action.startswith("s3:")
    }
    # histograms to the drift bucket (no Object Lock), baselines from the write-once artifacts bucket
    assert "DriftWork" in buckets["s3:PutObject"] and "Artifacts" not in buckets["s3:PutObject"]
    assert "Artifacts" in buckets["s3:GetObject"] and "DriftWork" not in buckets["s3:GetObject"]
    environment = {variable["Name"]: variable["Value"] for variable in container(serving[env])["Environment"]}
    assert "DriftWork" in json.dumps(environment["DRIFT_BUCKET"])
    assert "Artifacts" in json.dumps(environment["ARTIFACTS_BUCKET"])


@pytest.mark.parametrize("env", ENVS)
def test_prediction_id_secret_is_an_ecs_secret_under_the_environment_key(
    serving: dict[str, Template], stages: dict[str, EnvironmentStage], env: str
) -> None:
    gateway = stages[env].serving.gateway
    definition = container(serving[env])
    assert definition["Secrets"] == [{"Name": "PREDICTION_ID_SECRET", "ValueFrom": ref(gateway.secret)}]
    environment = {variable["Name"]: variable["Value"] for variable in definition["Environment"]}
    assert "PREDICTION_ID_SECRET" not in environment
    assert environment["ENDPOINT_NAME"] == f"my-mlops-{env}-endpoint"
    assert environment["METRICS_NAMESPACE"] == "SafeDeploy/Gateway"
    assert environment["WORKERS"] == "1"  # 512 CPU units: half a vCPU, one worker
    secret = only(serving[env].find_resources("AWS::SecretsManager::Secret"))
    assert "Fn::ImportValue" in secret["KmsKeyId"] and "Key" in secret["KmsKeyId"]["Fn::ImportValue"]
    readers = [
        statement
        for statement in policy_statements(serving[env], gateway.execution_role)
        if "secretsmanager:GetSecretValue" in statement["Action"]
    ]
    assert [statement["Resource"] for statement in readers] == [ref(gateway.secret)]


@pytest.mark.parametrize("env", ENVS)
def test_container_runs_hardened(serving: dict[str, Template], env: str) -> None:
    definition = container(serving[env])
    assert definition["ReadonlyRootFilesystem"] is True
    assert not definition["User"].startswith(("0", "root"))
    assert definition["HealthCheck"]["Command"] == ["CMD", "python", "-m", "gateway.healthcheck"]
    assert definition["LogConfiguration"]["LogDriver"] == "awslogs"


@pytest.mark.parametrize(("env", "days"), [("dev", 30), ("prod", 365)])
def test_log_groups_keep_the_environment_retention(serving: dict[str, Template], env: str, days: int) -> None:
    groups = {
        props["LogGroupName"]: props["RetentionInDays"]
        for props in (group["Properties"] for group in serving[env].find_resources("AWS::Logs::LogGroup").values())
    }
    assert groups == {
        f"my-mlops-{env}-GatewayLogs": days,
        f"my-mlops-{env}-VpcFlowLogs": days,
        f"aws-waf-logs-my-mlops-{env}-gateway": days,
    }


@pytest.mark.parametrize("env", ENVS)
def test_load_balancer_writes_access_logs_to_the_log_bucket(serving: dict[str, Template], env: str) -> None:
    attributes = {
        attribute["Key"]: attribute["Value"]
        for attribute in only(serving[env].find_resources("AWS::ElasticLoadBalancingV2::LoadBalancer"))[
            "LoadBalancerAttributes"
        ]
    }
    assert attributes["access_logs.s3.enabled"] == "true"
    assert attributes["access_logs.s3.prefix"] == "alb"
    assert "AccessLogs" in attributes["access_logs.s3.bucket"]["Fn::ImportValue"]


def access_log_writers(storage: Template) -> list[Any]:
    """Principals allowed to put objects under the ALB's log prefix of the access-log bucket."""
    return [
        statement["Principal"]
        for policy in storage.find_resources("AWS::S3::BucketPolicy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Allow"
        and statement["Action"] == "s3:PutObject"
        and "/alb/AWSLogs/" in json.dumps(statement["Resource"])
    ]


@pytest.fixture(scope="module")
def newer_region_storage(cdk_context: dict[str, Any]) -> Template:
    stack = build_serving(cdk_context, "dev", region="mx-central-1")  # opened in 2025, after August 2022
    return Template.from_stack(App.of(stack).node.find_child("storage"))


def test_an_older_region_grants_its_elb_account(storage: dict[str, Template]) -> None:
    """ap-northeast-2 predates the log-delivery principal: only Seoul's ELB account (documented) can write there."""
    writers = access_log_writers(storage["dev"])
    seoul_elb = {"AWS": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::600734575887:root"]]}}
    assert seoul_elb in writers
    assert {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"} not in writers


def test_a_newer_region_grants_the_log_delivery_principal(newer_region_storage: Template) -> None:
    writers = access_log_writers(newer_region_storage)
    assert {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"} in writers
    assert not [writer for writer in writers if "AWS" in writer]


@pytest.mark.parametrize(("env", "protected"), [("dev", "false"), ("prod", "true")])
def test_only_the_production_load_balancer_has_deletion_protection(
    serving: dict[str, Template], env: str, protected: str
) -> None:
    attributes = only(serving[env].find_resources("AWS::ElasticLoadBalancingV2::LoadBalancer"))[
        "LoadBalancerAttributes"
    ]
    assert {"Key": "deletion_protection.enabled", "Value": protected} in attributes


@pytest.mark.parametrize("env", ENVS)
def test_tasks_accept_traffic_from_the_load_balancer_only_and_send_https_only(
    serving: dict[str, Template], stages: dict[str, EnvironmentStage], env: str
) -> None:
    stack = stages[env].serving
    (task_group,) = stack.service.connections.security_groups
    (alb_group,) = stack.front_door.load_balancer.connections.security_groups
    task_group_id = {"Fn::GetAtt": [stack.get_logical_id(task_group.node.default_child), "GroupId"]}
    alb_group_id = {"Fn::GetAtt": [stack.get_logical_id(alb_group.node.default_child), "GroupId"]}
    ingress = [rule["Properties"] for rule in serving[env].find_resources("AWS::EC2::SecurityGroupIngress").values()]
    assert [
        (rule["FromPort"], rule["ToPort"], rule["SourceSecurityGroupId"])
        for rule in ingress
        if rule["GroupId"] == task_group_id
    ] == [(8080, 8080, alb_group_id)]
    egress = [
        rule["Properties"]
        for rule in serving[env].find_resources("AWS::EC2::SecurityGroupEgress").values()
        if rule["Properties"]["GroupId"] == task_group_id
    ]
    endpoint_group = stack.egress.endpoint_group
    endpoint_group_id = {"Fn::GetAtt": [stack.get_logical_id(endpoint_group.node.default_child), "GroupId"]}
    assert {(rule["FromPort"], rule["ToPort"]) for rule in egress} == {(443, 443)}
    assert [rule["DestinationSecurityGroupId"] for rule in egress if "DestinationSecurityGroupId" in rule] == [
        endpoint_group_id
    ]
    prefix_lists = [rule["DestinationPrefixListId"] for rule in egress if "DestinationPrefixListId" in rule]
    assert len(prefix_lists) == 2 and all("Fn::GetAtt" in pl for pl in prefix_lists)  # S3, DynamoDB (looked up)
    assert not [rule for rule in egress if "CidrIp" in rule]  # no more 443 to 0.0.0.0/0


def test_dev_without_certificate_serves_http_with_a_warning(
    serving: dict[str, Template], stages: dict[str, EnvironmentStage]
) -> None:
    listeners = listeners_by_port(serving["dev"])
    assert set(listeners) == {80}
    assert listeners[80]["Protocol"] == "HTTP"
    assert listeners[80]["DefaultActions"][0]["Type"] == "forward"
    Annotations.from_stack(stages["dev"].serving).has_warning(
        "/my-mlops-dev/serving/FrontDoor/Alb/Http", Match.string_like_regexp("plain HTTP")
    )


def assert_https_with_redirect(template: Template) -> None:
    listeners = listeners_by_port(template)
    assert set(listeners) == {80, 443}
    https = listeners[443]
    assert https["Protocol"] == "HTTPS"
    assert https["SslPolicy"].startswith("ELBSecurityPolicy-TLS13")
    assert https["DefaultActions"][0]["Type"] == "forward"
    (redirect,) = listeners[80]["DefaultActions"]
    assert redirect["Type"] == "redirect"
    assert redirect["RedirectConfig"] == {"Port": "443", "Protocol": "HTTPS", "StatusCode": "HTTP_301"}


def test_certificate_turns_on_https_and_redirects_http(dev_with_certificate: Template) -> None:
    assert_https_with_redirect(dev_with_certificate)
    https = listeners_by_port(dev_with_certificate)[443]
    (certificate,) = https["Certificates"]
    # Rebuilt on the deploying account: the template stays free of account literals.
    assert certificate["CertificateArn"]["Fn::Join"][1][-2:] == [
        {"Ref": "AWS::AccountId"},
        f":certificate/{CERTIFICATE_ID}",
    ]


def test_production_serves_https(serving: dict[str, Template]) -> None:
    assert_https_with_redirect(serving["prod"])


def test_production_certificate_is_resolved_from_ssm_at_deploy_time(serving: dict[str, Template]) -> None:
    https = listeners_by_port(serving["prod"])[443]
    (certificate,) = https["Certificates"]
    (parameter_ref,) = certificate["CertificateArn"].values()
    parameter = serving["prod"].to_json()["Parameters"][parameter_ref]
    assert parameter == {
        "Type": "AWS::SSM::Parameter::Value<String>",
        "Default": "/my-mlops/prod/gateway-certificate-arn",
    }


def test_production_without_certificate_fails_synth(cdk_context: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=r"^environments\.prod\.serving\.certificate_arn: production .* HTTPS only"):
        build_serving(cdk_context, "prod", serving={"certificate_arn": "", "certificate_parameter": ""})


def test_certificate_arn_and_parameter_are_exclusive(cdk_context: dict[str, Any]) -> None:
    with pytest.raises(
        ConfigError, match=r"^environments\.prod\.serving: set certificate_arn or certificate_parameter"
    ):
        build_serving(cdk_context, "prod", serving={"certificate_arn": CERTIFICATE_ARN})


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"serving": {"certificate_arn": CERTIFICATE_ARN.replace("ap-northeast-2", "us-east-1")}}, "is in us-east-1"),
        (
            {"account": "444455556666", "serving": {"certificate_arn": CERTIFICATE_ARN}},
            "belongs to account 111122223333, not this environment's 444455556666",
        ),
    ],
)
def test_a_certificate_the_load_balancer_cannot_use_is_refused(
    cdk_context: dict[str, Any], overrides: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ConfigError, match=rf"^environments\.dev\.serving\.certificate_arn: .*{problem}"):
        build_serving(cdk_context, "dev", **overrides)


def test_the_gateway_takes_its_request_and_answer_from_the_models_contract(cdk_context: dict[str, Any]) -> None:
    context = copy.deepcopy(cdk_context)
    context["model"]["contract"] = {
        "content_type": "application/json",
        "features": ["tenure", "plan", "spend"],
        "health_check": [12, 1, 42.5],
        "answer": {"kind": "value", "tolerance": 2.5},
    }
    definition = container(Template.from_stack(build_serving(context, "dev")))
    environment = {variable["Name"]: variable["Value"] for variable in definition["Environment"]}
    assert {name: environment.get(name) for name in ("FEATURE_COUNT", "MODEL_CONTENT_TYPE", "ANSWER_KIND")} == {
        "FEATURE_COUNT": "3",
        "MODEL_CONTENT_TYPE": "application/json",
        "ANSWER_KIND": "value",
    }
    assert (environment["ANSWER_TOLERANCE"], "SCORE_THRESHOLD" in environment) == ("2.5", False)
