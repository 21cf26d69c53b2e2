"""The suite's AWS contract check catches what botocore's own validation lets through, and passes valid requests."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from testbed import aws_contracts
from testbed.aws import SESSION

ROOT = Path(__file__).resolve().parents[3]
TRANSFORM_TYPES = ["ml.m5.large", "ml.t2.medium", "ml.c5.large"]


@pytest.fixture(scope="module")
def sagemaker() -> Any:
    return SESSION.client("sagemaker", endpoint_url="http://127.0.0.1:9")  # never reached: the check raises first


def rules(service: Any, operation: str, **params: Any) -> list[tuple[str, str]]:
    model = service.meta.service_model.operation_model(operation)
    return [(violation.path, violation.rule) for violation in aws_contracts.validate(params, model)]


def test_an_enum_value_the_service_does_not_know_is_caught(sagemaker: Any) -> None:
    inference = {
        "Containers": [{"Image": "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/xgboost:1"}],
        "SupportedContentTypes": ["text/csv"],
        "SupportedResponseMIMETypes": ["text/csv"],
        "SupportedTransformInstanceTypes": TRANSFORM_TYPES,
    }
    found = rules(
        sagemaker, "CreateModelPackage", ModelPackageGroupName="my-mlops-dev", InferenceSpecification=inference
    )
    assert [path for path, _ in found] == [
        "InferenceSpecification.SupportedTransformInstanceTypes[1]",
        "InferenceSpecification.SupportedTransformInstanceTypes[2]",
    ]
    assert all(rule.startswith("not a value of the TransformInstanceType enum (") for _, rule in found)


def test_a_string_longer_than_the_maximum_is_caught(sagemaker: Any) -> None:
    found = rules(sagemaker, "DescribeEndpoint", EndpointName="e" * 64)
    assert ("EndpointName", "64 characters, more than EndpointName's maximum of 63") in found


def test_a_string_that_does_not_match_the_pattern_is_caught(sagemaker: Any) -> None:
    [(path, rule)] = rules(sagemaker, "DescribeEndpoint", EndpointName="my_endpoint")
    assert path == "EndpointName"
    assert rule.startswith("does not match EndpointName's pattern ")


def test_numbers_and_list_sizes_out_of_range_are_caught(sagemaker: Any) -> None:
    assert rules(sagemaker, "ListModels", MaxResults=500) == [("MaxResults", "above MaxResults's maximum of 100")]
    assert rules(sagemaker, "ListModels", MaxResults=0) == [("MaxResults", "below MaxResults's minimum of 1")]
    tags = [{"Key": f"k{index}", "Value": "v"} for index in range(51)]
    arn = "arn:aws:sagemaker:ap-northeast-2:123456789012:endpoint/my-mlops-dev-endpoint"
    assert rules(sagemaker, "AddTags", ResourceArn=arn, Tags=tags) == [
        ("Tags", "51 items, more than TagList's maximum of 50")
    ]


def test_a_missing_required_member_is_caught_inside_a_list(sagemaker: Any) -> None:
    found = rules(sagemaker, "CreateEndpointConfig", EndpointConfigName="c1", ProductionVariants=[{"ModelName": "m"}])
    assert ("ProductionVariants[0].VariantName", "required member of ProductionVariant is missing") in found


def test_valid_requests_pass(sagemaker: Any) -> None:
    assert rules(sagemaker, "DescribeEndpoint", EndpointName="my-mlops-dev-endpoint") == []
    assert rules(sagemaker, "ListModels", MaxResults=100, NameContains="my-mlops") == []
    tags = [{"Key": "model-package-arn", "Value": "arn:aws:sagemaker:ap-northeast-2:123456789012:model-package/g/1"}]
    assert (
        rules(sagemaker, "AddTags", ResourceArn="arn:aws:sagemaker:ap-northeast-2:123456789012:endpoint/e", Tags=tags)
        == []
    )


def test_a_client_call_raises_with_service_operation_member_rule_and_value(sagemaker: Any) -> None:
    with aws_contracts.expected_violations() as violations, pytest.raises(aws_contracts.AwsContractViolation) as raised:
        sagemaker.list_models(MaxResults=500)
    message = str(raised.value)
    assert message == "AWS contract: sagemaker ListModels MaxResults: above MaxResults's maximum of 100; sent 500"
    assert [str(violation) for violation in violations] == [message]


def test_a_violation_the_code_swallows_is_still_recorded(sagemaker: Any) -> None:
    with aws_contracts.expected_violations() as violations, contextlib.suppress(Exception):  # a careless caller
        sagemaker.describe_endpoint(EndpointName="my_endpoint")
    assert [violation.path for violation in violations] == ["EndpointName"]


def test_every_client_of_every_session_is_checked() -> None:
    import boto3

    client = boto3.session.Session(region_name="ap-northeast-2").client("ssm", endpoint_url="http://127.0.0.1:9")
    with aws_contracts.expected_violations() as violations, pytest.raises(aws_contracts.AwsContractViolation):
        client.get_parameters(Names=[f"/p/{index}" for index in range(11)])
    assert [violation.rule for violation in violations] == ["11 items, more than ParameterNameList's maximum of 10"]


def test_a_subprocess_exits_non_zero_with_the_violation_in_stderr() -> None:
    script = (
        "import boto3\n"
        "client = boto3.session.Session(region_name='ap-northeast-2', aws_access_key_id='testing',"
        " aws_secret_access_key='testing').client('sagemaker', endpoint_url='http://127.0.0.1:9')\n"
        "try:\n    client.list_models(MaxResults=500)\nexcept Exception:\n    print('swallowed')\n"
    )
    env = {**os.environ, **aws_contracts.subprocess_environment()}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False)
    reported = aws_contracts.subprocess_violations()  # taken here, so this test does not fail on them
    assert done.returncode == 86
    assert done.stdout.strip() == "swallowed"
    assert "AWS contract: sagemaker ListModels MaxResults: above MaxResults's maximum of 100; sent 500" in done.stderr
    assert len(reported) == 1 and reported[0].startswith("AWS contract: sagemaker ListModels MaxResults")


@pytest.mark.parametrize(
    ("pattern", "valid", "invalid"),
    [
        (r"([\p{L}\p{Z}\p{N}_.:/=+\-@]*)", "팀 dev-1", "dev;1"),  # Unicode properties (tag values)
        (r"^arn:[\p{Alnum}\-]+:lambda:", "arn:aws:lambda:", "arn:a_b:lambda:"),  # Java POSIX class
        (r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\t]*", "ok \U0001f600", "bell\a"),  # surrogate pairs
        (r"^[\w-_]*$", "a-b_c", "a b"),  # a hyphen after \w is a literal in Java
        (r"\A\S[\p{Print}]*\z", "text/csv", " leading space"),
    ],
)
def test_java_patterns_of_the_models_are_translated(pattern: str, valid: str, invalid: str) -> None:
    compiled = aws_contracts.compiled_pattern(pattern)
    assert compiled is not None
    assert compiled.fullmatch(valid)
    assert compiled.fullmatch(invalid) is None


def test_every_pattern_of_the_services_the_platform_calls_is_checked() -> None:
    services = ["sagemaker", "sagemaker-runtime", "s3", "ssm", "cloudwatch", "codepipeline", "codecommit", "events"]
    services += ["secretsmanager", "kms", "athena", "lambda", "sts", "logs", "sns", "codeconnections"]
    unchecked = []
    for service in services:
        model = SESSION._session.get_service_model(service)
        for name in model.shape_names:
            pattern = model.shape_for(name).metadata.get("pattern")
            if pattern is not None and aws_contracts.compiled_pattern(pattern) is None:
                unchecked.append((service, name, pattern))
    assert unchecked == []


def test_the_suite_fails_the_test_that_sent_a_refused_request_even_when_its_code_swallowed_it(tmp_path: Path) -> None:
    (tmp_path / "test_probe.py").write_text(
        "import contextlib\n"
        "import pytest\n"
        "from testbed.aws import SESSION\n\n"
        "def call(**params):\n"
        "    with contextlib.suppress(Exception):\n"
        "        SESSION.client('sagemaker', endpoint_url='http://127.0.0.1:9').list_models(**params)\n\n"
        "@pytest.fixture\n"
        "def refused_in_setup():\n"
        "    call(MaxResults=500)\n\n"
        "def test_setup(refused_in_setup):\n    pass\n\n"
        "def test_call():\n    call(MaxResults=0)\n\n"
        "def test_valid():\n    call(MaxResults=10)\n"
    )
    command = [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:randomly", "-q", str(tmp_path)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    assert "1 failed, 1 passed, 1 error" in done.stdout, done.stdout[-3000:]
    assert "ERROR at setup of test_setup" in done.stdout
    assert "AWS contract: sagemaker ListModels MaxResults: below MaxResults's minimum of 1; sent 0" in done.stdout
