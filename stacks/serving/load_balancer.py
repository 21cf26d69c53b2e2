"""The gateway's front door: an ALB, internal or internet-facing (`serving.access.mode`), with access logs and HTTPS
when a certificate is set.

An internal ALB sits in the private subnets and admits the VPC (and `access.allowed_cidrs`) only; an internet-facing
one admits every address and relies on HTTPS, API keys and AWS WAF. Outside production, no certificate means one
HTTP listener, chosen with `access.allow_http` and announced as a synth warning so it is never silent; production
refuses to synthesize without one (`certificate.https_certificate_arn`). The health paths answer 404 at the
listener: the ALB's own health checks reach the tasks directly, callers have no business there.
"""

from __future__ import annotations

from aws_cdk import Annotations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.nag import acknowledge
from safedeploy.environment_config import EnvironmentConfig
from stacks.serving.network import PRIVATE_SUBNETS, PUBLIC_SUBNETS, VPC_CIDR

HTTP_PORT = 80
HTTPS_PORT = 443
ACCESS_LOG_PREFIX = "alb"
HTTP_ONLY_WARNING = "serving:http-only-listener"
HEALTH_PATHS = "/health/*"
HIDDEN_HEALTH_BODY = '{"error": {"code": "not_found", "message": "not found"}}'


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
        access = env_config.serving.access
        self.internet_facing = access.mode == "internet"
        security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description=f"Inference gateway load balancer ({access.mode}): listener ports, egress to tasks only",
            allow_all_outbound=False,
        )
        if self.internet_facing:
            acknowledge(
                security_group,
                "EC23",
                "serving.access.mode is 'internet': only the listener ports are open, every request to the API needs "
                "an API key over HTTPS and passes AWS WAF, and the tasks accept traffic from this load balancer alone.",
            )
        # Internal: the VPC and the configured networks; internet: everyone (through WAF and API keys).
        self.callers = (
            [ec2.Peer.any_ipv4()]
            if self.internet_facing
            else [ec2.Peer.ipv4(VPC_CIDR), *(ec2.Peer.ipv4(cidr) for cidr in access.allowed_cidrs)]
        )
        self.load_balancer = elbv2.ApplicationLoadBalancer(
            self,
            "Alb",
            vpc=vpc,
            vpc_subnets=PUBLIC_SUBNETS if self.internet_facing else PRIVATE_SUBNETS,
            internet_facing=self.internet_facing,
            security_group=security_group,
            deletion_protection=env_config.is_production,
            drop_invalid_header_fields=True,
        )
        self._deliver_access_logs(access_logs_bucket)
        self.scheme = "https" if certificate_arn else "http"
        self.listener = self._listener(certificate_arn)
        self.listener.add_action(
            "HideHealth",
            priority=1,
            conditions=[elbv2.ListenerCondition.path_patterns([HEALTH_PATHS])],
            action=elbv2.ListenerAction.fixed_response(
                404, content_type="application/json", message_body=HIDDEN_HEALTH_BODY
            ),
        )

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
                open=False,
            )
            self.load_balancer.add_redirect(source_port=HTTP_PORT, target_port=HTTPS_PORT, open=False)
            self._admit(HTTPS_PORT, HTTP_PORT)
            return listener
        listener = self.load_balancer.add_listener(
            "Http", port=HTTP_PORT, protocol=elbv2.ApplicationProtocol.HTTP, open=False
        )
        self._admit(HTTP_PORT)
        Annotations.of(listener).add_warning_v2(
            HTTP_ONLY_WARNING,
            "The gateway listens on plain HTTP (serving.access.allow_http is true and no certificate is set): API "
            "keys and ground truth cross the network in clear text. Accepted outside production and for internal "
            "load balancers only; set an ACM certificate to serve HTTPS with an HTTP->HTTPS redirect.",
        )
        return listener

    def _admit(self, *ports: int) -> None:
        for peer in self.callers:
            for port in ports:
                self.load_balancer.connections.allow_from(peer, ec2.Port.tcp(port), "gateway callers")
