"""Every command, make target and file the playbook points at exists, so the playbook cannot drift into fiction."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from safedeploy.cli import build_parser

ROOT = Path(__file__).resolve().parents[3]
PLAYBOOK = (ROOT / "docs" / "playbook.md").read_text()
CODE_SPANS = re.findall(r"`([^`]+)`", PLAYBOOK)
SECTIONS = re.findall(r"^## (\d)\. ", PLAYBOOK, flags=re.MULTILINE)


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (action,) = [a for a in parser._actions if a.dest == "command"]  # argparse keeps sub-parsers here
    return dict(action.choices)


def _subcommands() -> set[str]:
    return set(_subparsers())


def _make_targets() -> set[str]:
    return set(re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(), flags=re.MULTILINE))


def test_every_section_of_the_original_playbook_is_covered() -> None:
    assert [str(number) for number in range(9)] == SECTIONS


def test_every_safedeploy_command_exists() -> None:
    used = {span.split()[1] for span in CODE_SPANS if span.startswith("safedeploy ")}
    assert {"status", "approve", "reject", "rollback", "smoke-test", "retry-stage", "deploy"} <= used
    assert used <= _subcommands(), used - _subcommands()


def test_every_option_shown_belongs_to_its_command() -> None:
    parsers = _subparsers()
    shown = [span.split()[1:] for span in CODE_SPANS if span.startswith("safedeploy ")]
    for command, *words in shown:
        options = {word.split("=")[0] for word in words if word.startswith("--")}
        assert options <= set(parsers[command]._option_string_actions), (command, options)
    assert any("--" in word for _, *words in shown for word in words)


def test_every_make_target_exists() -> None:
    used = {span.split()[1] for span in CODE_SPANS if span.startswith("make ")}
    assert used and used <= _make_targets(), used - _make_targets()


@pytest.mark.parametrize(
    "path", sorted({span for span in CODE_SPANS if re.fullmatch(r"[\w.-]+(/[\w.-]+)+|[\w-]+\.(yml|json|py)", span)})
)
def test_every_referenced_file_exists(path: str) -> None:
    assert (ROOT / path).exists(), path
