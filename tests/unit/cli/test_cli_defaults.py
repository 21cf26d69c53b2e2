"""What every sub-command shares: the project from cdk.json, the version, and help written for users."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from safedeploy.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[3]


def test_the_project_defaults_to_cdk_json_in_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SAFEDEPLOY_PROJECT", raising=False)
    (tmp_path / "cdk.json").write_text(json.dumps({"context": {"project": "shop-ml"}}))
    monkeypatch.chdir(tmp_path)
    args = build_parser().parse_args(["status", "--env", "dev"])
    assert args.project == "shop-ml"


def test_the_environment_variable_wins_over_cdk_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFEDEPLOY_PROJECT", "other")
    monkeypatch.chdir(ROOT)
    assert build_parser().parse_args(["status", "--env", "dev"]).project == "other"


def test_outside_a_checkout_the_project_is_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SAFEDEPLOY_PROJECT", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["status", "--env", "dev"]) == 2
    assert capsys.readouterr().err.strip() == (
        "safedeploy status: error: --project is required (or set SAFEDEPLOY_PROJECT or run from the project's "
        "directory (cdk.json))"
    )
