"""A null section is an error, a missing one takes the defaults, and names AWS limits are checked at synth.

Each test builds a configuration of its own (project `acme`, one environment `qa`), not the shipped cdk.json.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_ssm as ssm

from app import build_app
from infra.name_limits import LAMBDA_FUNCTION_NAME, LIMITS, check_name_lengths
from safedeploy.environment_config import BRANCH_NAME_LIMIT, load_config, ssm_name_limit
from safedeploy.errors import ConfigError

QA = {
    "region": "eu-west-1",
    "removal_policy": "destroy",
    "termination_protection": False,
    "serving": {"access": {"allow_http": True}},
}
CONTEXT: dict[str, Any] = {
    "project": "acme",
    "model": {
        "train": "ml.build:train_and_evaluate",
        "sample_data": "ml.data:write_sample",
        "requirements": "ml/requirements.txt",
        "serving": {"framework": "sklearn", "framework_version": "1.9-0"},
        "contract": {"features": ["age", "tenure"], "health_check": [30, 2]},
        "metrics": {"auc": 0.75},
    },
    "environments": {"qa": QA},
}
NO_BUNDLING = {"aws:cdk:bundling-stacks": []}
ROOT = Path(__file__).resolve().parents[3]


def qa(**changes: Any) -> dict[str, Any]:
    context = copy.deepcopy(CONTEXT)
    context["environments"]["qa"].update(changes)
    return context


def synth_as_the_cli_does(context: dict[str, Any], tmp_path: Path, *, overflow: bool = False) -> list[str]:
    """Run app.py as `cdk synth` runs it: the context arrives as JSON in CDK_CONTEXT_JSON (or, when too large for the
    environment, in the file CONTEXT_OVERFLOW_LOCATION_ENV names); returns the app's stderr lines."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("CDK_", "CONTEXT_"))}
    context_json = json.dumps({**context, **NO_BUNDLING})
    if overflow:
        (tmp_path / "context.json").write_text(context_json)
        environment["CONTEXT_OVERFLOW_LOCATION_ENV"] = str(tmp_path / "context.json")
    else:
        environment["CDK_CONTEXT_JSON"] = context_json
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=ROOT,
        env={**environment, "CDK_OUTDIR": str(tmp_path / "cdk.out")},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 1, result.stderr[-2000:]
    return [line for line in result.stderr.splitlines() if line.startswith("cdk.json: ")]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"endpoint": None}, "environments.qa.endpoint: null; omit the key to take the defaults, or give an object"),
        ({"pipeline": None}, "environments.qa.pipeline: null; omit the key to take the defaults, or give a value"),
        ({"serving": {"access": None}}, "environments.qa.serving.access: null; omit the key"),
    ],
)
def test_a_null_section_stops_synth_with_one_line(changes: dict[str, Any], expected: str, tmp_path: Path) -> None:
    (line,) = synth_as_the_cli_does(qa(**changes), tmp_path)
    assert line.startswith(f"cdk.json: {expected}")


def test_a_null_environment_stops_synth_with_one_line_in_the_same_style(tmp_path: Path) -> None:
    """`environments.qa: null` is not an environment with the defaults, nor the Python repr of None."""
    context = copy.deepcopy(CONTEXT)
    context["environments"]["qa"] = None
    expected = "environments.qa: null; give an object (each of its keys has a default: {} takes them all)"
    assert synth_as_the_cli_does(context, tmp_path) == [f"cdk.json: {expected}"]
    with pytest.raises(ConfigError, match=rf"^{re.escape(expected)}$"):
        load_config(context)


def test_a_null_section_is_refused_from_the_overflow_file_too(tmp_path: Path) -> None:
    """A context too large for the environment comes in a file; null survives there as well."""
    (line,) = synth_as_the_cli_does(qa(drift=None), tmp_path, overflow=True)
    assert line.startswith("cdk.json: environments.qa.drift: null;")


def test_a_null_section_in_a_configuration_given_directly_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"^environments\.qa\.endpoint: null; omit the key"):
        load_config(qa(endpoint=None))


def test_a_missing_section_takes_the_defaults() -> None:
    """Documented in docs/environments.md: leaving a section out is the way to take its defaults."""
    env = load_config(CONTEXT).environments["qa"]
    assert env.endpoint.instance_count == 2 and env.pipeline.branch == "main"


def test_a_branch_name_longer_than_codecommit_allows_is_refused() -> None:
    model = botocore.session.get_session().get_service_model("codecommit").shape_for("BranchName")
    assert model.metadata["max"] == BRANCH_NAME_LIMIT
    load_config(qa(pipeline={"branch": "b" * BRANCH_NAME_LIMIT}))
    with pytest.raises(ConfigError) as error:
        load_config(qa(pipeline={"branch": "b" * (BRANCH_NAME_LIMIT + 1)}))
    assert str(error.value).startswith("environments.qa.pipeline.branch: 'bbbb")
    assert f"({BRANCH_NAME_LIMIT + 1} characters): String should have at most {BRANCH_NAME_LIMIT}" in str(error.value)


def test_an_ssm_parameter_name_longer_than_ssm_allows_is_refused() -> None:
    limit = ssm_name_limit("eu-west-1")
    assert limit == 1011 - len("arn:aws:ssm:eu-west-1:000000000000:parameter")
    name = "/" + "p" * limit
    with pytest.raises(ConfigError, match=rf"^environments\.qa: serving\.certificate_parameter: .* is {limit + 1} "):
        load_config(qa(serving={"access": {"allow_http": True}, "certificate_parameter": name}))


@pytest.mark.parametrize("kind", list(LIMITS), ids=lambda kind: kind.__name__)
def test_each_limit_is_the_one_in_botocores_model(kind: type) -> None:
    rule = LIMITS[kind]
    if rule.model is None:
        assert rule.limit == LAMBDA_FUNCTION_NAME  # the one documented limit (the model's max is the full ARN's)
        return
    service, shape = rule.model
    assert botocore.session.get_session().get_service_model(service).shape_for(shape).metadata["max"] == rule.limit


def _one_resource_stack(build: Any) -> Stack:
    stack = Stack(App(), "names")
    build(stack)
    return stack


@pytest.mark.parametrize(
    ("build", "what", "limit"),
    [
        (lambda s, n: iam.CfnRole(s, "R", assume_role_policy_document={}, role_name=n), "IAM role name", 64),
        (
            lambda s, n: lambda_.CfnFunction(s, "F", code={}, role="r", function_name=n),
            "Lambda function name",
            LAMBDA_FUNCTION_NAME,
        ),
        (lambda s, n: ssm.CfnParameter(s, "P", type="String", value="v", name="/" + n[1:]), "SSM parameter name", None),
    ],
    ids=["role", "function", "parameter"],
)
def test_a_resource_name_one_over_its_limit_stops_synth_with_one_line(build: Any, what: str, limit: int | None) -> None:
    limit = limit or ssm_name_limit("eu-west-1")
    check_name_lengths(
        _one_resource_stack(lambda s: build(s, "n" * limit)), "here", endpoint_name="e", region="eu-west-1"
    )
    with pytest.raises(ConfigError) as error:
        check_name_lengths(
            _one_resource_stack(lambda s: build(s, "n" * (limit + 1))), "here", endpoint_name="e", region="eu-west-1"
        )
    assert str(error.value).startswith(f"here: the {what}")
    assert f"is {limit + 1} characters; AWS allows {limit} " in str(error.value)


def test_the_longest_project_and_environment_names_allowed_give_names_within_every_limit() -> None:
    """The project (26) and environment (10) patterns bound every name built from them; build_app checks them all."""
    longest = copy.deepcopy(CONTEXT)
    longest["project"] = "p" * 26
    longest["environments"] = {"e" * 10: QA}
    stages = build_app(App(context={**longest, **NO_BUNDLING}))
    names = [
        getattr(node, rule.attribute)
        for node in stages["e" * 10].node.find_all()
        for kind, rule in LIMITS.items()
        if isinstance(node, kind) and isinstance(getattr(node, rule.attribute), str)
    ]
    assert max(len(name) for name in names) > 60  # the check saw the long names, not only generated ones


def test_an_endpoint_name_without_room_for_its_versioned_configs_is_refused() -> None:
    stack = _one_resource_stack(lambda s: None)
    with pytest.raises(ConfigError, match=r"^here: endpoint name 'e{50}' is too long for versioned names"):
        check_name_lengths(stack, "here", endpoint_name="e" * 50, region="eu-west-1")
