"""What the gateway's tasks may reach: AWS APIs through VPC endpoints, and nothing else.

The tasks call SageMaker runtime (InvokeEndpoint), the SageMaker API (DescribeEndpoint), DynamoDB (API keys,
feedback) and Secrets Manager (signing key at start), and Fargate pulls the image from ECR (layers in S3) and ships
logs to CloudWatch Logs through the task's network interface. Each has a VPC endpoint: interface endpoints with
private DNS (so SDKs keep their default host names), and gateway endpoints for S3 and DynamoDB. Egress is then 443 to
the interface endpoints' security group and to the S3 and DynamoDB prefix lists, instead of 443 to 0.0.0.0/0.

CloudFormation cannot name an AWS-managed prefix list, so its id is looked up at deploy time (DescribeManagedPrefixLists
through CDK's AwsCustomResource); synth stays offline.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import custom_resources as cr
from constructs import Construct

from infra.grants import acknowledge_cdk_grants
from infra.nag import acknowledge
from stacks.serving.network import PRIVATE_SUBNETS, VPC_CIDR

HTTPS = ec2.Port.tcp(443)
INTERFACE_SERVICES = {
    "SageMakerRuntime": ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_RUNTIME,
    "SageMakerApi": ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_API,
    "Logs": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    "EcrApi": ec2.InterfaceVpcEndpointAwsService.ECR,
    "EcrDocker": ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
    "SecretsManager": ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
}
GATEWAY_SERVICES = ("s3", "dynamodb")


class TaskEgress(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, vpc: ec2.IVpc) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.endpoint_group = ec2.SecurityGroup(
            self,
            "EndpointSecurityGroup",
            vpc=vpc,
            description="VPC interface endpoints of the inference gateway: HTTPS from the VPC",
            allow_all_outbound=False,
        )
        self.endpoint_group.add_ingress_rule(ec2.Peer.ipv4(VPC_CIDR), HTTPS, "AWS API calls from the VPC")
        for name, service in INTERFACE_SERVICES.items():
            vpc.add_interface_endpoint(
                name,
                service=service,
                subnets=PRIVATE_SUBNETS,
                security_groups=[self.endpoint_group],
                private_dns_enabled=True,
                open=False,
            )
        vpc.add_gateway_endpoint(
            "DynamoDb", service=ec2.GatewayVpcEndpointAwsService.DYNAMODB, subnets=[PRIVATE_SUBNETS]
        )
        self.prefix_lists = {
            service: self._prefix_list(service, f"com.amazonaws.{stack.region}.{service}")
            for service in GATEWAY_SERVICES
        }

    def _prefix_list(self, service: str, name: str) -> str:
        lookup = cr.AwsCustomResource(
            self,
            f"{service.title()}PrefixList",
            on_update=cr.AwsSdkCall(
                service="EC2",
                action="describeManagedPrefixLists",
                parameters={"Filters": [{"Name": "prefix-list-name", "Values": [name]}]},
                physical_resource_id=cr.PhysicalResourceId.of(name),
                output_paths=["PrefixLists.0.PrefixListId"],
            ),
            policy=cr.AwsCustomResourcePolicy.from_sdk_calls(resources=cr.AwsCustomResourcePolicy.ANY_RESOURCE),
            install_latest_aws_sdk=False,
        )
        acknowledge_cdk_grants(
            lookup.node.find_child("CustomResourcePolicy"),
            "ec2:DescribeManagedPrefixLists, the one action of this deploy-time lookup, accepts no resource but '*'.",
            acknowledge_on=lookup,
        )
        return lookup.get_response_field("PrefixLists.0.PrefixListId")

    def allow(self, group: ec2.SecurityGroup) -> None:
        """HTTPS from `group` to the endpoints and the gateway-endpoint prefix lists, and nowhere else."""
        group.add_egress_rule(self.endpoint_group, HTTPS, "AWS APIs through VPC interface endpoints")
        for service, prefix_list in self.prefix_lists.items():
            group.add_egress_rule(ec2.Peer.prefix_list(prefix_list), HTTPS, f"{service} through its gateway endpoint")


def acknowledge_lookup_function(stack: Stack) -> None:
    """CDK's singleton function behind AwsCustomResource, which runs only at deploy time to read two prefix lists."""
    function = stack.node.try_find_child(f"AWS{cr.AwsCustomResource.PROVIDER_FUNCTION_UUID.replace('-', '')}")
    if function is None:
        return
    acknowledge(
        function,
        "IAM4",
        "CDK's AwsCustomResource provider logs with AWSLambdaBasicExecutionRole; it runs at deploy time only.",
        findings=["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
    )
    acknowledge(function, "L1", "CDK pins the AwsCustomResource provider's runtime; it runs at deploy time only.")
