"""jsii's Node.js banner: silenced for an unsupported Node.js with jsii's own switch, and explained in one line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import jsii
import pytest

from infra.jsii_node import SILENCE_END_OF_LIFE, SUPPORTED_NODE_MAJORS, explain_end_of_life

ROOT = Path(__file__).resolve().parents[3]
RUNTIME = Path(jsii.__file__).parent / "_embedded" / "jsii" / "bin__jsii-runtime.js"


def test_an_end_of_life_node_is_silenced_for_its_major_and_named_once() -> None:
    environ: dict[str, str] = {}
    note = explain_end_of_life(environ, "v20.20.2")
    assert environ == {SILENCE_END_OF_LIFE: "20"}  # jsii reads a comma list of majors
    assert note == (
        "note: Node.js v20.20.2 is not supported by the CDK's jsii runtime (end-of-life); install Node.js 22 or 24 "
        "(docs/getting-started.md)"
    )
    assert explain_end_of_life(environ, "v20.20.2") is None  # a child process inherits the switch: no second note


@pytest.mark.parametrize("version", ["v22.11.0", "v24.1.0", "", "not a version"])
def test_a_supported_or_unreadable_node_is_left_alone(version: str) -> None:
    environ: dict[str, str] = {}
    assert explain_end_of_life(environ, version) is None
    assert environ == {}


def test_the_supported_majors_are_the_ones_the_bundled_jsii_runtime_still_supports() -> None:
    """The runtime's own release table: the majors we name are the ones whose end of life comes after 20's."""
    table = {
        int(major): date.fromisoformat(end)
        for major, end in re.findall(r'new NodeRelease\((\d+),\{endOfLife:new Date\("([\d-]+)"\)', RUNTIME.read_text())
    }
    assert {major for major, end in table.items() if end > table[20]} == set(SUPPORTED_NODE_MAJORS), table


def test_importing_the_cdk_prints_no_byte_string_banner() -> None:
    environment = {key: value for key, value in os.environ.items() if key != SILENCE_END_OF_LIFE}
    completed = subprocess.run(
        [sys.executable, "-c", "import stacks.guardrails_stack"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "b'!!" not in completed.stderr + completed.stdout
    assert len(completed.stderr.splitlines()) <= 1
