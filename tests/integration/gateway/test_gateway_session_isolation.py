"""The gateway session's AWS outlives whatever the other tests of the same pytest worker do to moto in-process."""

from __future__ import annotations

import pytest
from moto import mock_aws

from testbed.aws import MotoServer, moto_server
from testbed.gateway_harness import GatewayPolicies

pytestmark = pytest.mark.integration


def test_a_reset_or_mock_aws_elsewhere_in_the_worker_leaves_the_gateway_session_intact(
    moto: MotoServer, policies: GatewayPolicies
) -> None:
    with moto_server() as other:  # what the deploy and build tests do before each test
        other.reset()
    with mock_aws():  # what every in-process unit test does
        pass
    buckets = {bucket["Name"] for bucket in moto.client("s3").list_buckets()["Buckets"]}
    assert {policies.artifacts_bucket, policies.drift_bucket} <= buckets
    assert moto.client("secretsmanager").describe_secret(SecretId=policies.secret_arn)["ARN"] == policies.secret_arn
