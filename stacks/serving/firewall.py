"""AWS WAF in front of the gateway's load balancer: AWS managed rules, a rate limit per client address, and logs.

Rule order: the rate limit first (cheapest, and it must hold whatever else matches), then AWS's common rule set and
known-bad-inputs rule set. The common rule set's SizeRestrictions_BODY blocks bodies above 8 KB; the gateway takes
up to MAX_BODY_BYTES (100 rows) and enforces that limit itself (413), so that one rule only counts.
Logs go to a CloudWatch log group whose name starts with `aws-waf-logs-` (WAF refuses other destinations),
encrypted with the serving stack's log key; the API key header is redacted from them.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra.log_encryption import LogGroupKey
from safedeploy.environment_config import EnvironmentConfig
from safedeploy.naming import Naming

WAF_LOG_PREFIX = "aws-waf-logs-"
MANAGED_RULE_GROUPS = ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet")
COUNT_ONLY_RULES = {"AWSManagedRulesCommonRuleSet": ("SizeRestrictions_BODY",)}
RATE_RULE = "RateLimitPerClient"
RATE_LIMITED_STATUS = 429
REDACTED_HEADER = "x-api-key"


def _visibility(metric_name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=True
    )


class GatewayFirewall(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        naming: Naming,
        env_config: EnvironmentConfig,
        load_balancer: elbv2.IApplicationLoadBalancer,
        log_key: LogGroupKey,
    ) -> None:
        super().__init__(scope, construct_id)
        limits = env_config.serving.rate_limit
        rules = [
            wafv2.CfnWebACL.RuleProperty(
                name=RATE_RULE,
                priority=0,
                statement=wafv2.CfnWebACL.StatementProperty(
                    rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                        aggregate_key_type="IP",
                        limit=limits.waf_requests_per_client,
                        evaluation_window_sec=limits.waf_window_seconds,
                    )
                ),
                action=wafv2.CfnWebACL.RuleActionProperty(
                    block=wafv2.CfnWebACL.BlockActionProperty(
                        custom_response=wafv2.CfnWebACL.CustomResponseProperty(response_code=RATE_LIMITED_STATUS)
                    )
                ),
                visibility_config=_visibility(RATE_RULE),
            ),
            *(
                wafv2.CfnWebACL.RuleProperty(
                    name=group,
                    priority=priority,
                    statement=wafv2.CfnWebACL.StatementProperty(
                        managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                            vendor_name="AWS",
                            name=group,
                            rule_action_overrides=[
                                wafv2.CfnWebACL.RuleActionOverrideProperty(
                                    name=rule, action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={})
                                )
                                for rule in COUNT_ONLY_RULES.get(group, ())
                            ]
                            or None,
                        )
                    ),
                    override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                    visibility_config=_visibility(group),
                )
                for priority, group in enumerate(MANAGED_RULE_GROUPS, start=1)
            ),
        ]
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            name=naming.resource("gateway"),
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility(naming.resource("gateway")),
            rules=rules,
        )
        wafv2.CfnWebACLAssociation(
            self, "Association", resource_arn=load_balancer.load_balancer_arn, web_acl_arn=self.web_acl.attr_arn
        )
        log_group_name = f"{WAF_LOG_PREFIX}{naming.resource('gateway')}"
        self.log_group = log_key.log_group(self, "Logs", log_group_name=log_group_name)
        logging = wafv2.CfnLoggingConfiguration(
            self,
            "Logging",
            resource_arn=self.web_acl.attr_arn,
            # WAF takes the log group's ARN without the ":*" suffix that CloudFormation's Arn attribute carries.
            log_destination_configs=[
                Stack.of(self).format_arn(
                    service="logs",
                    resource="log-group",
                    resource_name=log_group_name,
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                )
            ],
            redacted_fields=[
                wafv2.CfnLoggingConfiguration.FieldToMatchProperty(single_header={"Name": REDACTED_HEADER})
            ],
        )
        logging.node.add_dependency(self.log_group)
