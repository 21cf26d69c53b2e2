"""The human form of a command's JSON document (`--json` prints the document itself).

Scalars become `name: value` lines; lists of numbers of one length become the columns of one table (a boundary
schedule: one row per look); a list of objects, or an object of objects, becomes a table whose columns are their
scalar fields; a list of texts becomes indented lines; a nested object is rendered the same way, indented.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

INDENT = "  "


def render(document: Mapping[str, Any]) -> str:
    return "\n".join(_lines(document))


def _lines(document: Mapping[str, Any]) -> list[str]:
    lines: list[str] = []
    columns = {key: value for key, value in document.items() if _numbers(value)}
    tabled: set[int] = set()
    for key, value in document.items():
        if key in columns:
            length = len(value)
            if length not in tabled:
                tabled.add(length)
                group = {name: items for name, items in columns.items() if len(items) == length}
                rows = [[str(index + 1), *(_cell(items[index]) for items in group.values())] for index in range(length)]
                lines += _table(["#", *(_label(name) for name in group)], rows)
        elif _scalar(value):
            lines.append(f"{_label(key)}: {_cell(value)}")
        elif isinstance(value, Mapping) and value and all(isinstance(item, Mapping) for item in value.values()):
            lines += [f"{_label(key)}:", *_object_table([{"": name, **item} for name, item in value.items()])]
        elif _objects(value):
            lines += [f"{_label(key)}:", *_object_table(value)]
        elif isinstance(value, Mapping):
            lines += [f"{_label(key)}:", *(INDENT + line for line in _lines(value))]
        elif isinstance(value, Sequence):
            lines += [f"{_label(key)}:", *(INDENT + _cell(item) for item in value)]
    return lines


def _object_table(items: Sequence[Mapping[str, Any]]) -> list[str]:
    fields = list(dict.fromkeys(name for item in items for name, value in item.items() if _scalar(value)))
    rows = [[_cell(item.get(name)) for name in fields] for item in items]
    return _table([_label(name) for name in fields], rows)


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]
    return [INDENT + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in (headers, *rows)]  # fmt: skip


def _label(key: str) -> str:
    return key.replace("_", " ")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float)


def _numbers(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) > 1
        and all((isinstance(item, int | float) and not isinstance(item, bool)) or item is None for item in value)
    )


def _objects(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(item, Mapping) for item in value)
