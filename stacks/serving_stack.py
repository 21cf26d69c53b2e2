"""The inference gateway of one environment: ECS Fargate tasks in private subnets behind an ALB (internal or
internet-facing by `serving.access`), AWS WAF on the ALB, and DynamoDB tables for API keys and feedback.

A bad gateway release must not take the front door down: the deployment circuit breaker rolls back a task set that
never turns healthy, and the ALB only routes to tasks whose `/health/ready` answers, i.e. that can reach the endpoint.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from constructs import Construct

from infra.config import removal_policy
from infra.log_encryption import LogGroupKey
from safedeploy.environment_config import EnvironmentConfig
from safedeploy.naming import Naming
from safedeploy.serving_contract import ServingContract
from stacks.serving.certificate import https_certificate_arn
from stacks.serving.egress import TaskEgress, acknowledge_lookup_function
from stacks.serving.firewall import GatewayFirewall
from stacks.serving.gateway_tables import GatewayTables
from stacks.serving.gateway_task import CONTAINER_PORT, GatewayTask
from stacks.serving.load_balancer import GatewayLoadBalancer
from stacks.serving.network import PRIVATE_SUBNETS, ServingNetwork
from stacks.storage_stack import StorageStack

READY_PATH = "/health/ready"
HEALTH_CHECK_INTERVAL = Duration.seconds(15)
# Long enough for uvicorn to start and make its first DescribeEndpoint call before the ALB judges the task.
HEALTH_CHECK_GRACE = Duration.seconds(60)
DEREGISTRATION_DELAY = Duration.seconds(30)
CPU_TARGET_PERCENT = 60
# The gateway mostly waits on SageMaker, so CPU lags load; requests per task is the earlier signal.
REQUESTS_PER_TASK_PER_MINUTE = 3000
SCALE_OUT_COOLDOWN = Duration.seconds(60)
SCALE_IN_COOLDOWN = Duration.seconds(300)


class ServingStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        naming: Naming,
        env_config: EnvironmentConfig,
        storage: StorageStack,
        contract: ServingContract,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, termination_protection=env_config.termination_protection, **kwargs)
        # First, so that a production environment without a certificate fails before any construct exists.
        certificate_arn = https_certificate_arn(self, env_config)
        removal = removal_policy(env_config)
        serving = env_config.serving

        self.log_key = LogGroupKey(self, "LogKey", naming=naming, env_config=env_config, purpose="serving")
        self.network = ServingNetwork(self, "Network", naming=naming, env_config=env_config, log_key=self.log_key)
        vpc = self.network.vpc
        self.egress = TaskEgress(self, "Egress", vpc=vpc)
        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            cluster_name=naming.resource("serving"),
            vpc=vpc,
            container_insights_v2=ecs.ContainerInsights.ENABLED,
        )
        self.tables = GatewayTables(self, "Tables", naming=naming, env_config=env_config, removal=removal)
        self.gateway = GatewayTask(
            self,
            "Gateway",
            naming=naming,
            env_config=env_config,
            storage=storage,
            tables=self.tables,
            log_key=self.log_key,
            removal=removal,
            contract=contract,
        )
        self.front_door = GatewayLoadBalancer(
            self,
            "FrontDoor",
            vpc=vpc,
            env_config=env_config,
            certificate_arn=certificate_arn,
            access_logs_bucket=storage.access_logs_bucket,
        )
        self.firewall = GatewayFirewall(
            self,
            "Firewall",
            naming=naming,
            env_config=env_config,
            load_balancer=self.front_door.load_balancer,
            log_key=self.log_key,
        )
        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=self.cluster,
            task_definition=self.gateway.task_definition,
            desired_count=serving.desired_count,
            min_healthy_percent=100,
            max_healthy_percent=200,
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            health_check_grace_period=HEALTH_CHECK_GRACE,
            vpc_subnets=PRIVATE_SUBNETS,
            assign_public_ip=False,
            security_groups=[self._task_security_group(vpc)],
            propagate_tags=ecs.PropagatedTagSource.SERVICE,
        )
        self.target_group = self.front_door.listener.add_targets(
            "Tasks",
            port=CONTAINER_PORT,
            protocol=elbv2.ApplicationProtocol.HTTP,
            targets=[self.service],
            deregistration_delay=DEREGISTRATION_DELAY,
            health_check=elbv2.HealthCheck(
                path=READY_PATH,
                healthy_http_codes="200",
                interval=HEALTH_CHECK_INTERVAL,
                healthy_threshold_count=2,
                unhealthy_threshold_count=3,
            ),
        )
        self._autoscale(env_config)
        CfnOutput(
            self,
            "GatewayUrl",
            value=f"{self.front_door.scheme}://{self.front_door.load_balancer.load_balancer_dns_name}",
            description=f"Inference gateway base URL, {serving.access.mode} (point a DNS name matching the "
            "certificate at it for HTTPS); callers send an API key from `safedeploy api-key create`",
        )

    def _task_security_group(self, vpc: ec2.IVpc) -> ec2.SecurityGroup:
        """Egress on 443 to the VPC endpoints of the AWS APIs the tasks call, and nowhere else."""
        group = ec2.SecurityGroup(
            self,
            "TaskSecurityGroup",
            vpc=vpc,
            description="Inference gateway tasks: ingress from the load balancer, egress HTTPS to AWS APIs",
            allow_all_outbound=False,
        )
        self.egress.allow(group)
        acknowledge_lookup_function(self)
        return group

    def _autoscale(self, env_config: EnvironmentConfig) -> None:
        scaling = self.service.auto_scale_task_count(
            min_capacity=env_config.serving.desired_count, max_capacity=env_config.serving.max_count
        )
        scaling.scale_on_cpu_utilization(
            "Cpu",
            target_utilization_percent=CPU_TARGET_PERCENT,
            scale_out_cooldown=SCALE_OUT_COOLDOWN,
            scale_in_cooldown=SCALE_IN_COOLDOWN,
        )
        scaling.scale_on_request_count(
            "Requests",
            requests_per_target=REQUESTS_PER_TASK_PER_MINUTE,
            target_group=self.target_group,
            scale_out_cooldown=SCALE_OUT_COOLDOWN,
            scale_in_cooldown=SCALE_IN_COOLDOWN,
        )
