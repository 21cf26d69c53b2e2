"""The serving network: two AZs, tasks in private subnets behind NAT, flow logs, and S3 reached without NAT.

The S3 gateway endpoint matters beyond cost: ECR stores image layers in S3, so every task start pulls through it.
"""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from infra.log_encryption import LogGroupKey
from safedeploy.environment_config import EnvironmentConfig
from safedeploy.naming import Naming

MAX_AZS = 2
SUBNET_MASK = 24
# CDK's default, written out so that security-group rules can name it as a literal (cdk-nag reads literals only).
VPC_CIDR = "10.0.0.0/16"
PRIVATE_SUBNETS = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
PUBLIC_SUBNETS = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC)


class ServingNetwork(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        naming: Naming,
        env_config: EnvironmentConfig,
        log_key: LogGroupKey,
    ) -> None:
        super().__init__(scope, construct_id)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            vpc_name=naming.resource("serving"),
            ip_addresses=ec2.IpAddresses.cidr(VPC_CIDR),
            max_azs=MAX_AZS,
            nat_gateways=env_config.serving.nat_gateways,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=SUBNET_MASK),
                ec2.SubnetConfiguration(
                    name="private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=SUBNET_MASK
                ),
            ],
            gateway_endpoints={
                "S3": ec2.GatewayVpcEndpointOptions(
                    service=ec2.GatewayVpcEndpointAwsService.S3, subnets=[PRIVATE_SUBNETS]
                )
            },
        )
        self.flow_log_group = log_key.log_group(self, "FlowLogs", log_group_name=naming.log_group("VpcFlow"))
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(self.flow_log_group),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )
