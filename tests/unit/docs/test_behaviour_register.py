"""docs/aws-behaviours.md's behaviour register is checked, not just read: every undocumented behaviour names a
fallback, an acceptance check and doctor checks that exist, and every documented one quotes AWS and links to it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from acceptance.checks import CHECKS as ACCEPTANCE_CHECKS
from safedeploy.operations.acceptance_results import Behaviour
from safedeploy.operations.doctor import CHECKS as DOCTOR_CHECKS

DOC = Path(__file__).resolve().parents[3] / "docs" / "aws-behaviours.md"
COLUMNS = ("id", "status", "behaviour", "evidence", "fallback", "acceptance", "doctor")
LINK = re.compile(r"\]\((https://[^)\s]+)\)")
QUOTE = re.compile(r'"[^"]{20,}"')


@dataclass(frozen=True)
class Row:
    cells: dict[str, str]

    def __getitem__(self, column: str) -> str:
        return self.cells[column]

    def ids(self, column: str) -> list[str]:
        return re.findall(r"`([^`]+)`", self.cells[column])


def register(text: str) -> list[Row]:
    section = text.split("\n## Behaviour register\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("| ")]
    header, rows = lines[0], lines[1:]
    assert [cell.strip().split(" ")[0] for cell in header.strip("|").split("|")] == list(COLUMNS), header
    parsed = []
    for line in rows:
        if set(line) <= {"|", "-", " "}:
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        assert len(cells) == len(COLUMNS), f"a register row needs {len(COLUMNS)} cells: {line}"
        parsed.append(Row(dict(zip(COLUMNS, cells, strict=True))))
    return parsed


ROWS = register(DOC.read_text())
DOCTOR_NAMES = {name for name, _ in DOCTOR_CHECKS}


def row_id(row: Row) -> str:
    return row.ids("id")[0]


def test_ids_are_unique_and_statuses_known() -> None:
    ids = [row_id(row) for row in ROWS]
    assert len(ids) == len(set(ids)), ids
    assert {row["status"] for row in ROWS} <= {"documented", "undocumented"}


@pytest.mark.parametrize("row", [row for row in ROWS if row["status"] == "documented"], ids=row_id)
def test_a_documented_behaviour_quotes_aws_and_links_to_it(row: Row) -> None:
    assert QUOTE.search(row["evidence"]), f"{row_id(row)}: quote the documentation"
    links = LINK.findall(row["evidence"])
    assert links and all(link.startswith("https://docs.aws.amazon.com/") for link in links), links
    assert set(row.ids("doctor")) <= DOCTOR_NAMES


@pytest.mark.parametrize("row", [row for row in ROWS if row["status"] == "undocumented"], ids=row_id)
def test_an_undocumented_behaviour_has_a_fallback_an_acceptance_check_and_a_doctor_check(row: Row) -> None:
    behaviour = Behaviour(row_id(row))
    assert len(row["fallback"]) > 20, f"{behaviour}: say what holds whichever way AWS behaves"
    assert LINK.search(row["evidence"]), f"{behaviour}: link to what the documentation does say"
    assert row.ids("acceptance") == [behaviour.value] and behaviour in ACCEPTANCE_CHECKS
    doctor = row.ids("doctor")
    assert f"acceptance-{behaviour.value}" in doctor
    assert set(doctor) <= DOCTOR_NAMES, set(doctor) - DOCTOR_NAMES


def test_the_register_the_suite_and_doctor_name_the_same_undocumented_behaviours() -> None:
    undocumented = {row_id(row) for row in ROWS if row["status"] == "undocumented"}
    assert undocumented == {behaviour.value for behaviour in Behaviour} == {b.value for b in ACCEPTANCE_CHECKS}


def test_the_parser_refuses_a_row_without_its_cells() -> None:
    broken = "\n## Behaviour register\n\n| " + " | ".join(COLUMNS) + " |\n|---|\n| `x` | undocumented | y |\n"
    with pytest.raises(AssertionError, match="needs 7 cells"):
        register(broken)
