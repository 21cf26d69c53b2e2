"""Checks of the shipped cdk.json itself: the configuration a fresh checkout deploys, and what README says of it.

They fail by design when a team changes cdk.json (adds an environment, changes a strategy, replaces the model):
update or delete them with that change. The synth check alone holds for any valid cdk.json. No other test reads
cdk.json's environments or model: the tests of the code build their own configurations
(tests/support/configuration.py), and the example model's own tests are in tests/unit/ml/.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from safedeploy.environment_config import load_config
from testbed import iam_world
from tests.support.configuration import EXAMPLE_MODEL

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = json.loads((ROOT / "cdk.json").read_text())["context"]
# README's "How long a release takes": | env | bake s (N requests/minute, M instances) | b + b + t = T s (..) | X s |
WAITS_ROW = re.compile(
    r"^\| (?P<env>[\w-]+) \| (?P<bake>\d+) s \((?P<rpm>\d+) requests/minute, (?P<instances>\d+) instances\) "
    r"\| (?P<canary>\d+) \+ (?P<final>\d+) \+ (?P<termination>\d+) = (?P<total>\d+) s [^|]*\| (?P<timeout>\d+) s \|$"
)


def test_the_shipped_configuration_is_valid_and_chains_dev_to_a_retained_prod() -> None:
    config = load_config(SHIPPED)
    assert config.project == "my-mlops"
    assert list(config.environments) == ["dev", "prod"]
    dev, prod = config.environments["dev"], config.environments["prod"]
    assert dev.promotes_to == "prod" and prod.promotes_to is None
    assert dev.removal_policy == "destroy" and not dev.termination_protection
    assert prod.removal_policy == "retain" and prod.termination_protection and prod.artifact_lock_days == 365


def test_the_shipped_configuration_synthesizes_behind_the_gate() -> None:
    """One stage per environment, built as `make synth` builds it (cdk-nag included) but without bundling; the
    templates are cached across test processes, and shared with the stacks' tests while cdk.json holds what
    tests/support/configuration.py does."""
    stages = sorted(f"{SHIPPED['project']}-{name}" for name in SHIPPED["environments"])
    assert sorted(iam_world.synthesized_stages(SHIPPED)) == stages


def test_the_shipped_model_is_the_example_in_ml() -> None:
    """Its entry points, ml/serving.py's container and ml/data.py's columns; the files it installs exist."""
    assert SHIPPED["model"] == EXAMPLE_MODEL
    for key in ("requirements", "pipeline_requirements"):
        assert (ROOT / SHIPPED["model"][key]).is_file(), key


def test_the_readme_states_the_release_waits_synth_plans_for_the_shipped_environments() -> None:
    """dev bakes 3540 s at 100 requests/minute on 2 instances, prod 1020 s at 1000 on 3, as README's table says."""
    text = (ROOT / "README.md").read_text()
    rows = [found.groupdict() for line in text.splitlines() if (found := WAITS_ROW.match(line))]
    stated = {row.pop("env"): {key: int(value) for key, value in row.items()} for row in rows}
    planned = {}
    for name, environment in load_config(SHIPPED).environments.items():
        settings = environment.endpoint
        bake, termination = settings.wait_interval_seconds, settings.termination_wait_seconds
        planned[name] = {
            "bake": bake,
            "rpm": int(settings.canary.expected_requests_per_minute),
            "instances": settings.instance_count,
            "canary": bake,
            "final": bake,
            "termination": termination,
            "total": settings.total_waiting_seconds()[0],
            "timeout": settings.max_execution_timeout_seconds,
        }
    assert stated == planned
    assert planned["dev"]["bake"] == 3540 and planned["prod"]["bake"] == 1020
