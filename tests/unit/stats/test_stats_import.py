"""The Lambda bundle carries numpy but not scipy: importing the engine must not need it."""

from __future__ import annotations

import subprocess
import sys

PROBE = "import sys, safedeploy.stats; print('scipy' in sys.modules); {extra}"


def probe(extra: str = "") -> list[str]:
    code = PROBE.format(extra=extra)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()


def test_importing_the_engine_does_not_load_scipy() -> None:
    assert probe() == ["False"]


def test_a_verdict_runs_without_loading_scipy() -> None:
    verdict = (
        "from safedeploy.stats import *; "
        "m = MetricPolicy(kind='proportion', harm='increase', margin=0.01, horizon=100, looks=2); "
        "s = CountSeries([1, 2], [60, 60]); o = CanaryObservations({'e': MetricObservations(s, s)}); "
        "canary_verdict(o, CanaryPolicy({'e': m})); plan_canary('proportion', 0.01, 0.01, 100, 0.1); "
        "print('scipy' in sys.modules)"
    )
    assert probe(verdict) == ["False", "False"]


def test_the_scipy_backed_tests_load_it_only_when_called() -> None:
    assert probe("safedeploy.stats.welch_t_test([1, 2, 3], [2, 3, 5]); print('scipy' in sys.modules)") == [
        "False",
        "True",
    ]
