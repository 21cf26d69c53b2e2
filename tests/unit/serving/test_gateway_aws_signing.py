"""The gateway's SigV4 signer produces exactly botocore's signature for InvokeEndpoint requests."""

from __future__ import annotations

import datetime
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials

from serving.gateway.aws_signing import RequestSigner, host_header

REGION = "ap-northeast-2"
NOW = 1_800_000_000.25
HEADERS = {"Content-Type": "text/csv", "Accept": "text/csv"}


def _botocore_headers(credentials: ReadOnlyCredentials, url: str, body: bytes, now: float) -> dict[str, str]:
    request = AWSRequest(method="POST", url=url, data=body, headers=dict(HEADERS))
    moment = datetime.datetime.fromtimestamp(now, datetime.UTC).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=moment):
        SigV4Auth(credentials, "sagemaker", REGION).add_auth(request)
    return dict(request.headers.items())


@pytest.mark.parametrize("token", [None, "session-token/with+chars=="])
@pytest.mark.parametrize(
    "url",
    [
        "https://runtime.sagemaker.ap-northeast-2.amazonaws.com/endpoints/my-mlops-dev-endpoint/invocations",
        "http://127.0.0.1:8081/endpoints/e-1/invocations",
        "https://localhost:443/endpoints/e/invocations",
    ],
)
def test_signatures_match_botocore(token: str | None, url: str) -> None:
    credentials = ReadOnlyCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    body = b"0.5,1.0,0.0\n1e-07,2.0,3.0\n"
    signer = RequestSigner(REGION)
    for now in (NOW, NOW + 86_400):  # the cached signing key must change with the date
        assert signer.sign(credentials, url, body, HEADERS, now) == _botocore_headers(credentials, url, body, now)


def test_the_host_header_omits_only_the_default_port() -> None:
    assert (
        host_header("https://runtime.sagemaker.us-east-1.amazonaws.com/x")
        == "runtime.sagemaker.us-east-1.amazonaws.com"
    )
    assert host_header("https://h:443/x") == "h"
    assert host_header("http://127.0.0.1:8081/x") == "127.0.0.1:8081"
