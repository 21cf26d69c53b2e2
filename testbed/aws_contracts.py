"""Every AWS request the tests make is checked against botocore's service model, as the real service would check it.

botocore's `ParamValidator` checks types, required members and minimums; AWS also refuses values outside an enum,
above a maximum (number, length or size) or not matching a pattern, and moto accepts most of them. This module checks
those too, in a `before-parameter-build` handler registered last on every botocore session (after the handlers that
fill idempotency tokens or transform DynamoDB items), so what is checked is what would be serialized.

Patterns in the models are Java regular expressions that the services match against the whole value (SageMaker
refuses `my_job` for `^[a-zA-Z0-9](-*[a-zA-Z0-9])*`); they are translated for the `regex` module (Unicode properties,
Java's POSIX classes, surrogate-pair ranges), compiled once and cached. The three (of about 9,900 in botocore)
that cannot be translated are skipped; a test holds every pattern of the services the platform calls to compiling.

Kept to the standard library, botocore and `regex`: a test subprocess loads it through
`testbed/strict_aws_site/sitecustomize.py` before its own code runs.
"""

from __future__ import annotations

import atexit
import difflib
import functools
import numbers
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import regex
from botocore import handlers
from botocore.model import OperationModel, Shape

T = TypeVar("T")
_installed = False
_ENUM_SHOWN = 12  # a longer enum is summarised with the values closest to the one sent


class AwsContractViolation(Exception):
    """A request AWS would refuse; raised where the request is made, so the call fails as it would in AWS."""

    def __init__(self, violations: list[Violation]) -> None:
        self.violations = violations
        super().__init__("\n".join(str(violation) for violation in violations))


@dataclass(frozen=True)
class Violation:
    service: str
    operation: str
    path: str
    rule: str
    value: Any

    def __str__(self) -> str:
        shown = repr(self.value)
        shown = shown if len(shown) <= 200 else f"{shown[:200]}... ({len(shown)} characters)"
        return f"AWS contract: {self.service} {self.operation} {self.path}: {self.rule}; sent {shown}"


def validate(params: dict[str, Any], operation: OperationModel) -> list[Violation]:
    """What AWS would refuse in `params` for `operation` (empty when the request is valid)."""
    shape = operation.input_shape
    if shape is None:
        return []
    service = operation.service_model.service_name
    found: list[tuple[str, str, Any]] = []
    _check(params, _rules(service, shape), "", found)
    return [Violation(service, operation.name, path or "(request)", rule, value) for path, rule, value in found]


class _Rules:
    """What one shape of one service allows, read once: botocore builds new Shape objects for every client."""

    def __init__(self, service: str, shape: Shape) -> None:
        metadata = shape.metadata
        self.name, self.kind = shape.name, shape.type_name
        if self.kind == "structure" and getattr(shape, "is_document_type", False):
            self.kind = "document"
        self.low, self.high = metadata.get("min"), metadata.get("max")
        self.enum: tuple[str, ...] = tuple(shape.enum) if self.kind == "string" else ()
        self.enum_values = frozenset(self.enum)
        self.pattern: str | None = metadata.get("pattern")
        self.compiled = compiled_pattern(self.pattern) if self.pattern is not None else None
        self.required: tuple[str, ...] = tuple(shape.required_members) if self.kind == "structure" else ()
        self._service, self._shape = service, shape
        self._children: dict[str, _Rules] | None = None

    @property
    def children(self) -> dict[str, _Rules]:
        """Members of a structure by name; `member` of a list; `key` and `value` of a map."""
        if self._children is None:
            shape: Any = self._shape
            pairs: Any = {
                "structure": lambda: shape.members.items(),
                "list": lambda: [("member", shape.member)],
                "map": lambda: [("key", shape.key), ("value", shape.value)],
            }.get(self.kind, lambda: [])()
            self._children = {name: _rules(self._service, child) for name, child in pairs}
        return self._children


_RULES: dict[tuple[str, str], _Rules] = {}


def _rules(service: str, shape: Shape) -> _Rules:
    rules = _RULES.get((service, shape.name))
    if rules is None:
        rules = _RULES[(service, shape.name)] = _Rules(service, shape)
    return rules


def _check(value: Any, rules: _Rules, path: str, found: list[tuple[str, str, Any]]) -> None:
    kind = rules.kind
    if kind == "structure":
        if isinstance(value, dict):
            _check_structure(value, rules, path, found)
    elif kind == "list":
        if isinstance(value, list | tuple):
            _check_size(len(value), rules, path, "items", value, found)
            member = rules.children["member"]
            for index, item in enumerate(value):
                _check(item, member, f"{path}[{index}]", found)
    elif kind == "map":
        if isinstance(value, dict):
            _check_size(len(value), rules, path, "entries", value, found)
            key_rules, value_rules = rules.children["key"], rules.children["value"]
            for key, item in value.items():
                _check(key, key_rules, f"{path}{{key {key!r}}}", found)
                _check(item, value_rules, f"{path}[{key!r}]", found)
    elif kind == "string":
        if isinstance(value, str):
            _check_string(value, rules, path, found)
    elif kind in ("integer", "long", "float", "double"):
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            _check_range(value, rules, path, found)
    elif kind == "blob" and isinstance(value, bytes | bytearray | str):
        size = len(value.encode() if isinstance(value, str) else value)
        _check_size(size, rules, path, "bytes", value, found)


def _check_structure(value: dict[str, Any], rules: _Rules, path: str, found: list[tuple[str, str, Any]]) -> None:
    for name in rules.required:
        if value.get(name) is None:
            found.append((_join(path, name), f"required member of {rules.name} is missing", None))
    members = rules.children
    for name, member_value in value.items():
        member = members.get(name)
        if member is not None and member_value is not None:
            _check(member_value, member, _join(path, name), found)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _check_string(value: str, rules: _Rules, path: str, found: list[tuple[str, str, Any]]) -> None:
    if rules.enum and value not in rules.enum_values:
        enum = rules.enum
        if len(enum) <= _ENUM_SHOWN:
            shown = ", ".join(enum)
        else:
            closest = difflib.get_close_matches(value, enum, n=5, cutoff=0) or enum[:5]
            shown = f"{len(enum)} values; closest: {', '.join(closest)}"
        found.append((path, f"not a value of the {rules.name} enum ({shown})", value))
    _check_size(len(value), rules, path, "characters", value, found)
    if rules.compiled is not None and rules.compiled.fullmatch(value) is None:
        found.append((path, f"does not match {rules.name}'s pattern {rules.pattern}", value))


def _check_size(size: int, rules: _Rules, path: str, unit: str, value: Any, found: list[tuple[str, str, Any]]) -> None:
    if rules.low is not None and size < rules.low:
        found.append((path, f"{size} {unit}, fewer than {rules.name}'s minimum of {rules.low}", value))
    if rules.high is not None and size > rules.high:
        found.append((path, f"{size} {unit}, more than {rules.name}'s maximum of {rules.high}", value))


def _check_range(value: float, rules: _Rules, path: str, found: list[tuple[str, str, Any]]) -> None:
    if rules.low is not None and value < rules.low:
        found.append((path, f"below {rules.name}'s minimum of {rules.low}", value))
    if rules.high is not None and value > rules.high:
        found.append((path, f"above {rules.name}'s maximum of {rules.high}", value))


_JAVA_POSIX_CLASSES = {
    "Alnum": "[a-zA-Z0-9]",
    "Alpha": "[a-zA-Z]",
    "Digit": "[0-9]",
    "Upper": "[A-Z]",
    "Lower": "[a-z]",
    "XDigit": "[0-9a-fA-F]",
    "Print": r"[\x20-\x7E]",
    "Graph": r"[\x21-\x7E]",
    "Punct": r"[!-/:-@\[-`{-~]",
    "ASCII": r"[\x00-\x7F]",
    "Space": r"[ \t\n\x0B\f\r]",
}
_JAVA_TRANSLATIONS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    # A UTF-16 surrogate-pair range is Java's way of writing the supplementary planes.
    (re.compile(r"\\uD800\\uDC00-\\uDBFF\\uDFFF"), lambda _: r"\U00010000-\U0010FFFF"),
    # Java reads `-` after a shorthand class inside [] as a literal hyphen.
    (re.compile(r"\\([wdsWDS])-(?!\])"), lambda match: f"\\{match.group(1)}\\-"),
    # An end anchor with a length quantifier (`${1,128}`) is the anchor.
    (re.compile(r"\$\{\d+,\d+\}"), lambda _: "$"),
    (re.compile(r"\\x\{([0-9a-fA-F]+)\}"), lambda match: f"\\U{int(match.group(1), 16):08X}"),
    (re.compile(r"\\p\{(" + "|".join(_JAVA_POSIX_CLASSES) + r")\}"), lambda match: _JAVA_POSIX_CLASSES[match.group(1)]),
]


@functools.cache
def compiled_pattern(pattern: str) -> regex.Pattern[str] | None:
    """The model's Java pattern compiled with Java's set semantics (regex V1), or None when it cannot be translated."""
    translated = pattern
    for java, python in _JAVA_TRANSLATIONS:
        translated = java.sub(python, translated)
    try:
        return regex.compile(translated, regex.V1)
    except regex.error:
        return None


def _handler(on_violation: Callable[[list[Violation]], None]) -> Callable[..., None]:
    def check_request(params: dict[str, Any], model: OperationModel, **_: Any) -> None:
        violations = validate(params, model)
        if violations:
            _RECORDED.add(violations)
            on_violation(violations)
            raise AwsContractViolation(violations)

    return check_request


def install(on_violation: Callable[[list[Violation]], None] = lambda _: None) -> None:
    """Check every request of every botocore session created from now on (idempotent)."""
    global _installed
    if not _installed:
        handlers.BUILTIN_HANDLERS.append(("before-parameter-build", _handler(on_violation), handlers.REGISTER_LAST))
        _installed = True


class Recorder(Generic[T]):
    """What the checks found, from every thread, until the test that made the requests takes it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[T] = []

    def add(self, items: list[T]) -> None:
        with self._lock:
            self._items.extend(items)

    def peek(self) -> list[T]:
        with self._lock:
            return list(self._items)

    def take(self) -> list[T]:
        """The items recorded since the last call, which are then forgotten."""
        with self._lock:
            taken, self._items = self._items, []
        return taken

    @contextmanager
    def expected(self) -> Iterator[list[T]]:
        """For tests of a check itself: what is found inside the block is handed over instead of failing the test."""
        outside = self.take()
        handed: list[T] = []
        try:
            yield handed
        finally:
            handed.extend(self.take())
            with self._lock:
                self._items[:0] = outside


_RECORDED: Recorder[Violation] = Recorder()
take_recorded = _RECORDED.take
expected_violations = _RECORDED.expected


SITE_DIRECTORY = Path(__file__).resolve().parent / "strict_aws_site"
SUBPROCESS_LOG_VARIABLE = "STRICT_AWS_CONTRACTS_LOG"


@dataclass
class _SubprocessLog:
    """Where this process's subprocesses report their violations, and how far this process has read."""

    path: Path
    read: int = 0


_subprocess_log: _SubprocessLog | None = None


def install_for_tests() -> None:
    """The suite's set-up: check this process's requests and prepare the log its subprocesses report to."""
    global _subprocess_log
    install()
    if _subprocess_log is None:
        handle, name = tempfile.mkstemp(prefix="aws-contracts-", suffix=".log")
        os.close(handle)
        atexit.register(os.unlink, name)
        _subprocess_log = _SubprocessLog(Path(name))


def subprocess_environment() -> dict[str, str]:
    """Variables that make a subprocess check its requests and report to this process (none outside the suite)."""
    if _subprocess_log is None:
        return {}
    search_path = [str(SITE_DIRECTORY), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {"PYTHONPATH": os.pathsep.join(search_path), SUBPROCESS_LOG_VARIABLE: str(_subprocess_log.path)}


def subprocess_violations() -> list[str]:
    """Violations the subprocesses reported since the last call."""
    if _subprocess_log is None:
        return []
    with _subprocess_log.path.open(encoding="utf-8") as stream:
        stream.seek(_subprocess_log.read)
        text = stream.read()
        _subprocess_log.read = stream.tell()
    return text.splitlines()
