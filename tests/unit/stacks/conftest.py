"""Synthesize the whole app once per test session: synth is the slow part, assertions are cheap.

The app is synthesized from the tests' own configuration (tests/support/configuration.py), not the shipped cdk.json.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from app import build_app
from stacks.stage import EnvironmentStage
from testbed import iam_world
from tests.support.configuration import two_environments

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def cdk_context() -> dict[str, Any]:
    """The app's context: dev -> prod with the example model (tests/support/configuration.py)."""
    return two_environments()


def synth_app(context: dict[str, Any], outdir: Path) -> dict[str, EnvironmentStage]:
    """Synthesize like `cdk synth` does, but without asset bundling so unit tests stay fast and offline."""
    app = App(context={**context, "aws:cdk:bundling-stacks": []}, outdir=str(outdir))
    stages = build_app(app)
    app.synth()
    return stages


def gate_violations(
    context: dict[str, Any],
    outdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    change: Callable[[EnvironmentStage], None],
) -> dict[str, list[str]]:
    """Synthesize dev alone with `change` applied to its stage, expect the gate to stop it, and return what it found
    (rule -> construct paths)."""
    original = EnvironmentStage.__init__

    def changed(self: EnvironmentStage, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        change(self)

    dev_only = {**context, "environments": {"dev": {**context["environments"]["dev"], "promotes_to": None}}}
    monkeypatch.setattr(EnvironmentStage, "__init__", changed)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        synth_app(dev_only, outdir)
    report = json.loads((outdir / "validation-report.json").read_text())
    return {
        violation["ruleName"]: [construct["constructPath"] for construct in violation["violatingConstructs"]]
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
    }


@pytest.fixture(scope="session")
def stages(cdk_context: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, EnvironmentStage]:
    outdir = tmp_path_factory.mktemp("cdk.out")
    stages = synth_app(cdk_context, outdir)
    iam_world.keep(cdk_context, outdir)  # the IAM evaluation's templates: the same synth, not another one
    return stages


@pytest.fixture(scope="session")
def storage(stages: dict[str, EnvironmentStage]) -> dict[str, Template]:
    return {name: Template.from_stack(stage.storage) for name, stage in stages.items()}
