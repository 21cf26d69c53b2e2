"""Which ACM certificate the gateway's HTTPS listener uses, checked against the environment it deploys to.

Production without a certificate is a configuration error, not an HTTP fallback: the gateway carries prediction ids
and ground truth, and a silent downgrade to plain HTTP in prod is the failure this check exists to prevent.
A certificate ARN is account-specific and unknown when the repository is cloned, so an environment may instead name
an SSM parameter that holds it: CloudFormation resolves it at deploy time and synth stays offline.
"""

from __future__ import annotations

from aws_cdk import Arn, ArnFormat, Stack
from aws_cdk import aws_ssm as ssm

from safedeploy.environment_config import EnvironmentConfig
from safedeploy.errors import ConfigError


def https_certificate_arn(stack: Stack, env_config: EnvironmentConfig) -> str | None:
    """The certificate ARN for `stack`, or None when this non-production environment serves HTTP only.

    A load balancer can use only a certificate of its own account and region, so the ARN is rebuilt on the stack's
    account: an environment-agnostic template then carries no account literal, and a pinned account that differs
    from the certificate's fails here rather than in CloudFormation.
    """
    configured = env_config.serving.certificate_arn
    key = f"environments.{env_config.name}.serving.certificate_arn"
    if env_config.serving.certificate_parameter:
        return ssm.StringParameter.value_for_string_parameter(stack, env_config.serving.certificate_parameter)
    if not configured:
        if env_config.is_production:
            raise ConfigError(
                f"{key}: production serves the gateway over HTTPS only; set the ARN of an ACM certificate in "
                f"{env_config.region}, or certificate_parameter to an SSM parameter holding it "
                "(HTTP-only is allowed outside production)"
            )
        if env_config.serving.access.mode == "internet":
            raise ConfigError(
                f"{key}: an internet-facing gateway (serving.access.mode 'internet') carries API keys and serves "
                "HTTPS only; set a certificate or use mode 'internal'"
            )
        if not env_config.serving.access.allow_http:
            raise ConfigError(
                f"{key}: no certificate, so the gateway would listen on plain HTTP; set a certificate, or choose "
                f"HTTP explicitly with environments.{env_config.name}.serving.access.allow_http: true"
            )
        return None
    parts = Arn.split(configured, ArnFormat.SLASH_RESOURCE_NAME)
    if parts.region != env_config.region:
        raise ConfigError(
            f"{key}: {configured!r} is in {parts.region}; the load balancer needs a certificate in {env_config.region}"
        )
    if env_config.account and parts.account != env_config.account:
        raise ConfigError(
            f"{key}: {configured!r} belongs to account {parts.account}, not this environment's {env_config.account}"
        )
    return stack.format_arn(
        service="acm",
        resource="certificate",
        resource_name=parts.resource_name,
        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
    )
