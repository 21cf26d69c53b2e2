"""`safedeploy config show`: every section's effective values, read from cdk.json with synth's models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from safedeploy.cli import main
from safedeploy.cli.exit_codes import ExitCode
from safedeploy.environment_config import load_config
from tests.support.configuration import two_environments, write_cdk_json

CONTEXT = two_environments()


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    return write_cdk_json(tmp_path, CONTEXT)


def shown(capsys: pytest.CaptureFixture[str], config_file: Path, env: str) -> dict:
    assert main(["config", "show", "--env", env, "--config", str(config_file)]) == ExitCode.OK
    return json.loads(capsys.readouterr().out)


def test_every_section_is_shown_with_its_defaults_filled_in(
    capsys: pytest.CaptureFixture[str], config_file: Path
) -> None:
    document = shown(capsys, config_file, "dev")
    environment = document["environment"]

    assert document["project"] == CONTEXT["project"]
    assert set(environment) >= {"pipeline", "endpoint", "quality_gate", "serving", "feature_store", "flags", "drift"}
    assert environment["drift"]["schedule_minutes"] == 60 and environment["serving"]["rate_limit"]["per_key_burst"]
    assert document["model"]["train"] == CONTEXT["model"]["train"]


def test_the_shown_values_are_the_configuration_synth_builds(
    capsys: pytest.CaptureFixture[str], config_file: Path
) -> None:
    for env in CONTEXT["environments"]:
        environment = shown(capsys, config_file, env)["environment"]
        given = {key: value for key, value in environment.items() if key != "name"}
        rebuilt = load_config({**CONTEXT, "environments": {**CONTEXT["environments"], env: given}})

        assert rebuilt.environments[env] == load_config(CONTEXT).environments[env]


def test_an_environment_not_in_cdk_json_is_one_line(capsys: pytest.CaptureFixture[str], config_file: Path) -> None:
    assert main(["config", "show", "--env", "qa", "--config", str(config_file)]) == ExitCode.BAD_INPUT
    assert capsys.readouterr().err == "safedeploy config: error: --env 'qa' is not in cdk.json (dev, prod)\n"
