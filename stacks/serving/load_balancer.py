"""The gateway's public front door: an internet-facing ALB with access logs and HTTPS when a certificate is set.

Outside production, no certificate means one HTTP listener, announced as a synth warning so it is never silent;
production refuses to synthesize without one (`certificate.https_certificate_arn`).
"""

from __future__ import annotations

from aws_cdk import Annotations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.nag import acknowledge
from stacks.serving.network import PUBLIC_SUBNETS

HTTP_PORT = 80
HTTPS_PORT = 443
ACCESS_LOG_PREFIX = "alb"
HTTP_ONLY_WARNING = "serving:http-only-listener"


class GatewayLoadBalancer(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        env_config: EnvironmentConfig,
        certificate_arn: str | None,
        access_logs_bucket: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="Inference gateway load balancer: listener ports from the internet, egress to tasks only",
            allow_all_outbound=False,
        )
        acknowledge(
            security_group,
            "EC23",
            "The inference gateway is a public API: only its listener ports are open, and the tasks behind it accept "
            "traffic from this load balancer alone.",
        )
        self.load_balancer = elbv2.ApplicationLoadBalancer(
            self,
            "Alb",
            vpc=vpc,
            vpc_subnets=PUBLIC_SUBNETS,
            internet_facing=True,
            security_group=security_group,
            deletion_protection=env_config.is_production,
            drop_invalid_header_fields=True,
        )
        self._deliver_access_logs(access_logs_bucket)
        self.scheme = "https" if certificate_arn else "http"
        self.listener = self._listener(certificate_arn)

    def _deliver_access_logs(self, bucket: s3.IBucket) -> None:
        """Access logs into the storage stack's server-access-log bucket (ALB logs accept SSE-S3 buckets only).

        CDK's `log_access_logs` grants the principal ELB documents for the stack's region: the regional ELB account
        in Regions that predate the log-delivery service principal (ap-northeast-2 among them), the principal
        `logdelivery.elasticloadbalancing.amazonaws.com` in newer ones. Granting only the principal leaves an older
        Region's load balancer unable to write a single log.
        """
        self.load_balancer.log_access_logs(bucket, ACCESS_LOG_PREFIX)

    def _listener(self, certificate_arn: str | None) -> elbv2.ApplicationListener:
        if certificate_arn:
            listener = self.load_balancer.add_listener(
                "Https",
                port=HTTPS_PORT,
                protocol=elbv2.ApplicationProtocol.HTTPS,
                certificates=[elbv2.ListenerCertificate.from_arn(certificate_arn)],
                ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS,
                open=True,
            )
            self.load_balancer.add_redirect(source_port=HTTP_PORT, target_port=HTTPS_PORT)
            return listener
        listener = self.load_balancer.add_listener(
            "Http", port=HTTP_PORT, protocol=elbv2.ApplicationProtocol.HTTP, open=True
        )
        Annotations.of(listener).add_warning_v2(
            HTTP_ONLY_WARNING,
            "The gateway listens on plain HTTP because serving.certificate_arn is empty; this is accepted outside "
            "production only. Set an ACM certificate ARN to serve HTTPS with an HTTP->HTTPS redirect.",
        )
        return listener
