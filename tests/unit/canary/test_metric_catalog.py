"""The canary-metric catalog is the one place CloudWatch names of the canary's metrics are written."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from safedeploy.canary import metric_names, metrics
from safedeploy.guardrails.canary_settings import AlarmThresholds, CanarySettings

ROOT = Path(__file__).resolve().parents[3]
# Product code: what runs at synth, in the Lambdas, in the CLI, the gateway, the acceptance suite, the rehearsal and
# the benches.
PRODUCT = ("app.py", "safedeploy", "stacks", "infra", "lambdas", "serving", "acceptance", "rehearsal", "bench")
# The catalog, and the names it shares with the gateway image (standard library only).
CATALOG = (ROOT / "safedeploy" / "canary" / "metrics.py", ROOT / "safedeploy" / "canary" / "metric_names.py")
# AWS/Lambda's own metric of the same name, not SageMaker's.
ELSEWHERE = {("safedeploy/operations/doctor.py", "Invocations")}
METRIC_NAMES = {metric.name for metric in vars(metrics).values() if isinstance(metric, metrics.CloudWatchMetric)}
NAMESPACES = (metric_names.SAGEMAKER_NAMESPACE, metric_names.GATEWAY_NAMESPACE)


def _product_files() -> list[Path]:
    files = []
    for entry in PRODUCT:
        path = ROOT / entry
        files += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return [path for path in files if path not in CATALOG]


def _docstrings(tree: ast.AST) -> set[int]:
    bodies = [node.body for node in ast.walk(tree) if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)]
    return {
        id(body[0].value)
        for body in bodies
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
    }


def _literals(path: Path) -> list[tuple[int, str]]:
    """(line, text) of each string constant that names a catalog metric or contains a catalog namespace."""
    tree = ast.parse(path.read_text(), str(path))
    skipped = _docstrings(tree)
    named = re.compile(r"(^|[\"'])(" + "|".join(map(re.escape, sorted(METRIC_NAMES))) + r")([\"']|$)")
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skipped
        if named.search(node.value) or any(namespace in node.value for namespace in NAMESPACES)
    ]


def test_no_cloudwatch_name_of_a_canary_metric_is_written_outside_the_catalog() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {text!r}"
        for path in _product_files()
        for line, text in _literals(path)
        if (str(path.relative_to(ROOT)), text) not in ELSEWHERE
    ]
    assert found == []


def test_the_scan_sees_a_literal_in_a_string_and_in_a_search_expression(tmp_path: Path) -> None:
    source = tmp_path / "sample.py"
    source.write_text(
        '"""ModelLatency in a docstring is prose."""\n'
        'A = "ModelLatency"\n'
        "B = f'{{AWS/SageMaker,EndpointName}} MetricName=\"Invocations\"'\n"
        'C = "Average of Invocation5XXErrors, a fraction"\n'
    )
    assert [line for line, _ in _literals(source)] == [2, 3]


@pytest.mark.parametrize(
    "setting",
    sorted(
        {
            setting
            for metric in metrics.CANARY_METRICS
            for setting in (metric.margin, metric.tolerance, metric.mde, metric.alarm and metric.alarm.threshold)
            if setting
        },
        key=lambda setting: setting.key,
    ),
    ids=lambda setting: setting.key,
)
def test_every_setting_the_catalog_names_exists(setting: metrics.Setting) -> None:
    section = {"canary": CanarySettings(), "alarms": AlarmThresholds()}[setting.section]
    assert isinstance(setting.of(section), float | int)
