"""Error rates, detection speed and run time of the canary statistics engine, side by side with the alternatives.

Run: `.venv/bin/python bench/canary_engine.py [--reps N] [--seed S]` (under a minute on two cores).

Monte Carlo, with variances estimated from the data as the engine does, compares five ways to watch a canary:
this engine's group-sequential test (Lan-DeMets spending), its mSPRT (100 looks), one fixed-horizon test, naive
repeated z tests, and the textbook schedule alpha / sqrt(K / i). The false-positive rate is measured under H0
and the power and average sample number (ASN, candidate samples, relative to the fixed test's n) under the design
effect, the difference the fixed test detects with the design power. Then the same through `canary_verdict` on
per-minute CloudWatch-style aggregates, the exact design factors, and the timings the Lambda cares about.

The canary on realistic traffic (rare and clustered errors, heavy tails, missing minutes, whole-instance shares,
mid-bake onsets, A/B and shadow), with the policy built from `cdk.json` and the textbook schedule beside it on the
same data, is `bench/canary_scenarios.py`.
"""

from __future__ import annotations

import argparse
import math
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from safedeploy.decision import Decision
from safedeploy.stats import (
    CanaryObservations,
    CanaryPolicy,
    CountSeries,
    MeanSeries,
    MetricObservations,
    MetricPolicy,
    always_valid_p_values,
    canary_verdict,
    exit_probabilities,
    group_sequential_design,
    spending_boundaries,
)
from safedeploy.stats.boundaries import _cached_boundaries
from safedeploy.stats.normal import upper_quantile

ROOT = Path(__file__).resolve().parents[1]
ALPHA = 0.05
DESIGN_POWER = 0.9
CANARY_SHARE = 0.1  # candidate fleet gets 10 %, the baseline 90 %
RATIO = (1.0 - CANARY_SHARE) / CANARY_SHARE  # baseline samples per candidate sample
FIXED_N = 2000  # candidate samples of the fixed-horizon test; sigma = 1
LOOK_COUNTS = (5, 10, 20)
MSPRT_LOOKS = 100
MONITOR_PERIODS = 1440  # one day of per-minute points per fleet for the timing run


@dataclass(frozen=True)
class Paths:
    """Running estimates of candidate minus baseline and their estimated variances, one row per replication."""

    effect: np.ndarray
    variance: np.ndarray
    horizon: float  # candidate samples at the last look

    @property
    def z(self) -> np.ndarray:
        return self.effect / np.sqrt(self.variance)


def simulate(rng: np.random.Generator, reps: int, horizon: float, looks: int, effect: float) -> Paths:
    """Two fleets of unit-variance normal data observed in `looks` equal batches, variances estimated.

    Batches are drawn through their sufficient statistics (mean ~ normal, within sum of squares ~ chi-square),
    which is exact and lets 20,000 replications of 22,000 samples run in well under a second.
    """
    batch = horizon / looks
    moments = []
    for size, mean in ((batch * RATIO, 0.0), (batch, effect)):
        means = rng.normal(mean, 1.0 / math.sqrt(size), (reps, looks))
        within = rng.chisquare(size - 1.0, (reps, looks))
        count = size * np.arange(1, looks + 1)
        running_mean = np.cumsum(means * size, axis=1) / count
        between = np.cumsum(size * means**2, axis=1) - count * running_mean**2
        moments.append((running_mean, (np.cumsum(within, axis=1) + between) / (count - 1.0) / count))
    (mean_a, share_a), (mean_b, share_b) = moments
    return Paths(mean_b - mean_a, share_a + share_b, horizon)


@dataclass(frozen=True)
class Outcome:
    rejection_rate: float
    standard_error: float
    asn_ratio: float  # average candidate samples at stopping / FIXED_N


def outcome(rejected_at: np.ndarray, horizon: float) -> Outcome:
    """`rejected_at[r, k]`: replication r rejects at look k; it stops at its first rejection or at the horizon."""
    reps, looks = rejected_at.shape
    rejected = rejected_at.any(axis=1)
    stop_look = np.where(rejected, rejected_at.argmax(axis=1) + 1, looks)
    rate = float(rejected.mean())
    return Outcome(rate, math.sqrt(rate * (1.0 - rate) / reps), float((stop_look / looks * horizon).mean()) / FIXED_N)


def design_effect() -> float:
    """The difference the fixed one-sided test at FIXED_N detects with DESIGN_POWER (unit sd)."""
    standard_error = math.sqrt((1.0 + 1.0 / RATIO) / FIXED_N)
    return (upper_quantile(ALPHA) + upper_quantile(1.0 - DESIGN_POWER)) * standard_error


def boundary_schedules(looks: int, sides: int) -> dict[str, np.ndarray]:
    """z boundaries per look; a two-sided procedure compares |z| with them."""
    fractions = [k / looks for k in range(1, looks + 1)]
    return {
        "engine group-sequential": np.array(spending_boundaries(fractions, ALPHA, "obf", sides)),
        "naive repeated z": np.full(looks, upper_quantile(ALPHA / sides)),
        "textbook alpha/sqrt(K/i)": np.array(
            [upper_quantile(ALPHA / math.sqrt(looks / i) / sides) for i in range(1, looks + 1)]
        ),
    }


def crossed(paths: Paths, boundaries: np.ndarray, sides: int) -> np.ndarray:
    statistic = np.abs(paths.z) if sides == 2 else paths.z
    return statistic >= boundaries[None, :]


def msprt_rejections(paths: Paths, sides: int) -> np.ndarray:
    """The engine's always-valid p-values at every look, mixture scale tau at the design effect."""
    alternative = "two-sided" if sides == 2 else "greater"
    p_values = always_valid_p_values(paths.effect.T, paths.variance.T, design_effect(), alternative=alternative)
    return p_values.T <= ALPHA


def exact_false_positive_rate(boundaries: np.ndarray, sides: int) -> float:
    """The same schedule's H0 rejection rate with known variance, by recursive integration (no simulation)."""
    looks = boundaries.size
    fractions = [k / looks for k in range(1, looks + 1)]
    upper = [float(b) for b in boundaries]
    below, above = exit_probabilities(fractions, upper, [-b for b in upper] if sides == 2 else None)
    return sum(below) + sum(above)


def error_rate_table(rng: np.random.Generator, reps: int, sides: int) -> None:
    question = "two-sided 'any difference' (the seed's test)" if sides == 2 else "one-sided harm (the canary's)"
    print(f"\n== {question}: alpha {ALPHA}, {reps:,} replications per cell, candidate share {CANARY_SHARE:.0%}")
    header = f"{'procedure':<28}{'K':>4}{'FPR (H0)':>16}{'exact':>8}"
    print(header + (f"{'power (H1)':>16}{'ASN/n_fixed':>13}" if sides == 1 else ""))
    effect = design_effect()

    def row(
        name: str, looks: int, horizon: float, rejections: Callable[[Paths], np.ndarray], exact: float | None
    ) -> None:
        h0 = outcome(rejections(simulate(rng, reps, horizon, looks, 0.0)), horizon)
        h1 = outcome(rejections(simulate(rng, reps, horizon, looks, effect)), horizon) if sides == 1 else None
        print_row(name, looks, h0, exact, h1)

    fixed = np.array([upper_quantile(ALPHA / sides)])
    row("fixed horizon", 1, FIXED_N, lambda paths: crossed(paths, fixed, sides), ALPHA)
    for looks in LOOK_COUNTS:
        horizon = FIXED_N * group_sequential_design(looks, ALPHA, DESIGN_POWER, "obf", sides).inflation
        for name, boundaries in boundary_schedules(looks, sides).items():
            exact = exact_false_positive_rate(boundaries, sides)
            row(name, looks, horizon, lambda paths, b=boundaries: crossed(paths, b, sides), exact)
    horizon = FIXED_N * group_sequential_design(max(LOOK_COUNTS), ALPHA, DESIGN_POWER, "obf", sides).inflation
    row("engine mSPRT", MSPRT_LOOKS, horizon, lambda paths: msprt_rejections(paths, sides), None)


def fmt(result: Outcome) -> str:
    return f"{result.rejection_rate:>9.4f} ±{result.standard_error:.4f}"


def print_row(name: str, looks: int, h0: Outcome, exact: float | None, h1: Outcome | None) -> None:
    line = f"{name:<28}{looks:>4}{fmt(h0):>16}{'' if exact is None else f'{exact:.4f}':>8}"
    if h1 is not None:
        line += f"{fmt(h1):>16}{h1.asn_ratio:>13.3f}"
    print(line)


def design_table() -> None:
    print(f"\n== exact design factors (recursive integration), one-sided alpha {ALPHA}")
    print(f"{'spending':<10}{'K':>4}{'power':>8}{'max n / fixed n':>18}{'ASN under effect / fixed n':>29}")
    for spending in ("obf", "pocock"):
        for looks in LOOK_COUNTS:
            for power in (0.8, 0.9):
                design = group_sequential_design(looks, ALPHA, power, spending, 1)
                print(
                    f"{spending:<10}{looks:>4}{power:>8.1f}{design.inflation:>18.3f}"
                    f"{design.expected_fraction_under_effect:>29.3f}"
                )


def fleet_day(rng: np.random.Generator, periods: int, latency_shift: float = 0.0) -> CanaryObservations:
    """Per-minute aggregates of three metrics, as GetMetricData returns them: 900 / 100 requests a minute."""
    baseline_n = rng.poisson(900.0, periods).astype(float)
    candidate_n = rng.poisson(100.0, periods).astype(float)

    def latency(counts: np.ndarray, shift: float) -> MeanSeries:
        means = 120.0 + shift + rng.normal(0.0, 30.0 / np.sqrt(np.maximum(counts, 1.0)))
        return MeanSeries(counts, np.where(counts > 0, means, np.nan))

    def errors(counts: np.ndarray) -> CountSeries:
        return CountSeries(rng.binomial(counts.astype(int), 0.01).astype(float), counts)

    def accuracy(counts: np.ndarray) -> CountSeries:
        feedback = rng.binomial(counts.astype(int), 0.3).astype(float)
        return CountSeries(rng.binomial(feedback.astype(int), 0.9).astype(float), feedback)

    return CanaryObservations(
        {
            "error_rate": MetricObservations(errors(baseline_n), errors(candidate_n)),
            "latency_ms": MetricObservations(latency(baseline_n, 0.0), latency(candidate_n, latency_shift)),
            "accuracy": MetricObservations(accuracy(baseline_n), accuracy(candidate_n)),
        }
    )


def canary_policy(looks: int = 10) -> CanaryPolicy:
    return CanaryPolicy(
        {
            "error_rate": MetricPolicy(kind="proportion", harm="increase", margin=0.005, horizon=6000, looks=looks),
            "latency_ms": MetricPolicy(kind="mean", harm="increase", margin=5.0, horizon=6000, looks=looks),
            "accuracy": MetricPolicy(kind="proportion", harm="decrease", margin=0.03, horizon=1800, looks=looks),
        }
    )


def end_to_end(rng: np.random.Generator, reps: int) -> None:
    print(f"\n== canary_verdict on per-minute aggregates: 3 metrics, 10 looks, Holm, {reps:,} replications")
    policy = canary_policy()
    periods = 75  # past every horizon (60 minutes of candidate traffic)
    for label, shift in (("H0: candidate equal", 0.0), ("H1: latency +4 ms", 4.0)):
        decisions = dict.fromkeys(Decision, 0)
        harm_minutes, promote_minutes = [], []
        for _ in range(reps):
            verdict = canary_verdict(fleet_day(rng, periods, shift), policy)
            decisions[verdict.decision] += 1
            minute = (verdict.period or 0) + 1
            if any(details["status"] == "harmful" for details in verdict.metrics.values()):
                harm_minutes.append(minute)
            elif verdict.decision == Decision.PROMOTE:
                promote_minutes.append(minute)
        rate = len(harm_minutes) / reps
        share = ", ".join(f"{name} {count / reps:.3f}" for name, count in decisions.items())
        print(f"{label}: harm ROLLBACK {rate:.4f} ±{math.sqrt(rate * (1 - rate) / reps):.4f} ({share})")
        for what, minutes in (("harm ROLLBACK", harm_minutes), (Decision.PROMOTE, promote_minutes)):
            if minutes:
                print(f"    mean minute of {what}: {statistics.mean(minutes):.1f}")


def import_seconds() -> tuple[float, bool]:
    code = (
        "import sys, time; t = time.perf_counter(); import safedeploy.stats; "
        "print(time.perf_counter() - t, 'scipy' in sys.modules)"
    )
    runs = []
    for _ in range(5):
        output = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
        seconds, scipy_loaded = output.stdout.split()
        runs.append((float(seconds), scipy_loaded == "True"))
    return statistics.median(seconds for seconds, _ in runs), any(loaded for _, loaded in runs)


def timings(rng: np.random.Generator) -> None:
    print("\n== timings (targets: import < 1 s, one verdict < 50 ms)")
    seconds, scipy_loaded = import_seconds()
    print(f"import safedeploy.stats in a fresh interpreter (median of 5): {seconds * 1000:.0f} ms")
    print(f"scipy loaded by that import: {scipy_loaded}")
    observations = fleet_day(rng, MONITOR_PERIODS)
    for looks in (10, 20):
        policy = canary_policy(looks)
        cold = []
        for _ in range(5):
            _cached_boundaries.cache_clear()
            start = time.perf_counter()
            canary_verdict(observations, policy)
            cold.append(time.perf_counter() - start)
        warm = []
        for _ in range(20):
            start = time.perf_counter()
            canary_verdict(observations, policy)
            warm.append(time.perf_counter() - start)
        print(
            f"canary_verdict, 3 metrics x {MONITOR_PERIODS} per-minute points per fleet, {looks} looks: "
            f"{statistics.median(cold) * 1000:.1f} ms cold (boundaries computed), "
            f"{statistics.median(warm) * 1000:.1f} ms warm (median)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=20_000, help="Monte Carlo replications per cell")
    parser.add_argument("--verdict-reps", type=int, default=2_000, help="replications of the end-to-end run")
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    print(
        f"fixed-horizon n = {FIXED_N} candidate samples, design effect {design_effect():.4f} sd, power {DESIGN_POWER}"
    )
    error_rate_table(rng, args.reps, sides=2)
    error_rate_table(rng, args.reps, sides=1)
    design_table()
    end_to_end(rng, args.verdict_reps)
    timings(rng)


if __name__ == "__main__":
    main()
