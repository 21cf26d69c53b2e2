"""The gateway's Fargate task: image built from `serving/`, its roles, log group and prediction-id secret.

Roles get identity-based statements only. The secret's KMS key is set on the CloudFormation resource rather than
through `Secret(encryption_key=...)`: the L2 would grant through the storage stack's key policy, editing a stateful
stack from this one, while the key policy already delegates to IAM in this account.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import ArnFormat, Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra import iam_role
from infra.grants import Grant, acknowledge_cdk_grants, grant_to
from infra.log_encryption import LogGroupKey
from infra.nag import acknowledge
from safedeploy.canary.metric_names import GATEWAY_NAMESPACE
from safedeploy.environment_config import EnvironmentConfig
from safedeploy.naming import Naming
from safedeploy.s3_layout import BASELINE_OBJECTS, histograms_root
from safedeploy.serving_contract import ServingContract
from stacks.pipeline.promotion import served_package_group
from stacks.serving.gateway_tables import GatewayTables
from stacks.storage_stack import StorageStack

# The build context is the repository: its .dockerignore admits the gateway and `safedeploy/s3_layout.py` alone, and
# decides what reaches the image and therefore the asset hash.
IMAGE_CONTEXT = Path(__file__).resolve().parents[2]
DOCKERFILE = "serving/Dockerfile"
CONTAINER_NAME = "gateway"
CONTAINER_PORT = 8080
# The image's USER, repeated here so that an image that forgets it still never runs as root.
CONTAINER_USER = "10001:10001"
# The image's own liveness probe (ECS ignores a Dockerfile HEALTHCHECK): it never looks at the endpoint.
LIVENESS = ecs.HealthCheck(
    command=["CMD", "python", "-m", "gateway.healthcheck"],
    interval=Duration.seconds(15),
    timeout=Duration.seconds(3),
    start_period=Duration.seconds(15),
    retries=3,
)
SECRET_LENGTH = 64
CPU_UNITS_PER_VCPU = 1024
# ListTags: the endpoint's tag names the live model package, whose drift baseline the gateway bins rows against.
ENDPOINT_ACTIONS = ("sagemaker:InvokeEndpoint", "sagemaker:DescribeEndpoint", "sagemaker:ListTags")


def endpoint_arn(stack: Stack, naming: Naming) -> str:
    """This environment's endpoint; SageMaker writes resource names in ARNs in lower case."""
    return stack.format_arn(
        service="sagemaker",
        resource="endpoint",
        resource_name=naming.endpoint.lower(),
        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
    )


class GatewayTask(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        naming: Naming,
        env_config: EnvironmentConfig,
        storage: StorageStack,
        tables: GatewayTables,
        log_key: LogGroupKey,
        removal: RemovalPolicy,
        contract: ServingContract,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        limits = env_config.serving.rate_limit
        self.task_role = iam.Role(
            self,
            "TaskRole",
            assumed_by=iam.ServicePrincipal(
                "ecs-tasks.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}
            ),
            description=f"Lets the {naming.prefix} gateway invoke {naming.endpoint}, read API keys, write feedback",
        )
        grant_to(
            self.task_role,
            Grant.of(iam.PolicyStatement(actions=list(ENDPOINT_ACTIONS), resources=[endpoint_arn(stack, naming)])),
        )
        tables.grant_gateway(self.task_role)
        self._grant_drift_histograms(stack, naming, storage, served_package_group(self, naming, env_config))
        self.execution_role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description=f"Starts {naming.prefix} gateway tasks: image pull, logs, prediction-id secret",
        )
        grant_to(self.execution_role, iam_role.kms_use(storage.key))
        self.log_group = log_key.log_group(self, "Logs", log_group_name=naming.log_group("Gateway"))
        self.secret = self._prediction_id_secret(storage, removal)
        self.task_definition = ecs.FargateTaskDefinition(
            self,
            "TaskDefinition",
            family=naming.resource("gateway"),
            cpu=env_config.serving.cpu,
            memory_limit_mib=env_config.serving.memory_mib,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.X86_64,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
            task_role=self.task_role,
            execution_role=self.execution_role,
        )
        self.container = self.task_definition.add_container(
            CONTAINER_NAME,
            image=ecs.ContainerImage.from_asset(
                str(IMAGE_CONTEXT), file=DOCKERFILE, platform=ecr_assets.Platform.LINUX_AMD64
            ),
            port_mappings=[ecs.PortMapping(container_port=CONTAINER_PORT, name="http")],
            environment={
                "ENDPOINT_NAME": naming.endpoint,
                **contract.gateway_environment(),  # the model's request width, wire format and answer
                "METRICS_NAMESPACE": GATEWAY_NAMESPACE,  # the canary reads feedback there
                # One uvicorn worker per vCPU: a single worker could never use a larger task's CPU.
                "WORKERS": str(max(1, env_config.serving.cpu // CPU_UNITS_PER_VCPU)),
                "API_KEYS_TABLE": tables.api_keys.table_name,
                "FEEDBACK_TABLE": tables.feedback.table_name,
                "RATE_LIMIT_PER_SECOND": str(limits.per_key_requests_per_second),
                "RATE_LIMIT_BURST": str(limits.per_key_burst),
                "DRIFT_BUCKET": storage.drift_bucket.bucket_name,
                "ARTIFACTS_BUCKET": storage.artifacts_bucket.bucket_name,
            },
            secrets={"PREDICTION_ID_SECRET": ecs.Secret.from_secrets_manager(self.secret)},
            logging=ecs.LogDrivers.aws_logs(stream_prefix=CONTAINER_NAME, log_group=self.log_group),
            readonly_root_filesystem=True,
            user=CONTAINER_USER,
            health_check=LIVENESS,
        )
        # The image asset grants the execution role the pull, with ecr:GetAuthorizationToken on `*`.
        acknowledge_cdk_grants(
            self.execution_role,
            "ecr:GetAuthorizationToken, which ECS needs to pull the gateway image, accepts no resource but '*'.",
            actions=["ecr:GetAuthorizationToken"],
        )
        acknowledge(
            self.task_definition,
            "ECS2",
            "The plain environment holds only names and limits (endpoint, tables, metrics namespace, worker count, "
            "rate limit, the drift histograms' and baselines' buckets); the one secret (PREDICTION_ID_SECRET) is "
            "injected from Secrets Manager.",
        )

    def _grant_drift_histograms(self, stack: Stack, naming: Naming, storage: StorageStack, packages: str) -> None:
        """Write this endpoint's histograms (drift bucket), read the baselines they are binned against (artifacts
        bucket) and the package naming them (a version of `packages`, the group this environment serves); nothing
        else in either bucket (no list, no delete)."""
        bucket, drift_bucket = storage.artifacts_bucket, storage.drift_bucket
        histograms = f"{histograms_root(naming.endpoint)}*"
        grant_to(
            self.task_role,
            iam_role.s3_keys(drift_bucket, [histograms], ["s3:PutObject"]),
            iam_role.s3_keys(bucket, [BASELINE_OBJECTS], ["s3:GetObject"]).because(
                f"s3:GetObject only of {BASELINE_OBJECTS}: the drift baseline of each model run."
            ),
            iam_role.kms_use(storage.key, encrypt=True),
            iam_role.model_packages(stack, packages, ["sagemaker:DescribeModelPackage"]),
        )

    def _prediction_id_secret(self, storage: StorageStack, removal: RemovalPolicy) -> secretsmanager.ISecret:
        secret = secretsmanager.Secret(
            self,
            "PredictionIdSecret",
            description="HMAC key the inference gateway signs prediction ids with",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=SECRET_LENGTH, exclude_punctuation=True
            ),
            removal_policy=removal,
        )
        cfn_secret = secret.node.default_child
        assert isinstance(cfn_secret, secretsmanager.CfnSecret)
        cfn_secret.kms_key_id = storage.key.key_arn
        acknowledge(
            secret,
            "SMG4",
            "Rotation is not needed: this HMAC key only signs prediction ids so feedback can be matched to its "
            "prediction, it grants access to nothing, and rotating it would invalidate ids still awaiting feedback.",
        )
        return secret
