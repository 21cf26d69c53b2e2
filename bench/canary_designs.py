"""Why the blue/green detector is what it is: candidate designs compared on the same Brownian evidence.

Each minute adds one unit of information to a harm statistic with drift theta per minute under harm (the z after t
minutes has mean theta sqrt(t)), so every design is judged on what it does with the information, apart from the
details of the count and median tests (the scenario bench measures those). theta is set so that a fixed test at
alpha / 2 needs the minutes the information-limit line of `canary_scenarios.py` gives for dev's errors x3 (20) and
prod's latency +20 % (5.25). A design is a list of tests (first minute, looks, share of the metric's alpha,
spending), combined by Bonferroni as the verdict combines the whole-bake test and the late window. Printed: the false
rollback rate (each metric's share, 0.025), the power and median minute with harm from the start, and with harm from
mid-bake.

Run: `.venv/bin/python bench/canary_designs.py [--reps 20000] [--seed 20261208]` (under a minute).
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from safedeploy.stats.boundaries import spending_boundaries
from safedeploy.stats.normal import upper_quantile

METRIC_ALPHA = 0.025  # alpha 0.05 over two metrics
POWER = 0.9
Test = tuple[int, int, float, str]  # first minute (0 = the bake's start), looks, share of alpha, spending


def looks_of(minutes: int, first: int, looks: int) -> np.ndarray:
    span = minutes - first
    return np.array(sorted({first + math.ceil(k * span / looks) for k in range(1, looks + 1)}))


def first_rollback(increments: np.ndarray, minutes: int, design: list[Test]) -> np.ndarray:
    """The minute each replication's first test crosses its boundary (inf: never)."""
    path = np.cumsum(increments, axis=1)
    first = np.full(increments.shape[0], np.inf)
    for start, looks, share, spending in design:
        at = looks_of(minutes, start, looks)
        boundaries = spending_boundaries(
            [(m - start) / (minutes - start) for m in at], share * METRIC_ALPHA, spending, 1
        )
        before = path[:, start - 1] if start else 0.0
        for minute, boundary in zip(at, boundaries, strict=True):
            z = (path[:, minute - 1] - before) / math.sqrt(minute - start)
            first[(z >= boundary) & (first > minute)] = minute
    return first


def designs(minutes: int, late_share: float) -> dict[str, list[Test]]:
    middle = math.ceil(minutes / 2)
    late = (middle, 5, late_share, "obf")
    whole = 1.0 - late_share
    return {
        "10 OBF looks + late window (previous)": [(0, 10, whole, "obf"), late],
        "every minute, OBF + late window": [(0, minutes, whole, "obf"), late],
        "every minute, Pocock + late window (chosen)": [(0, minutes, whole, "pocock"), late],
        "every minute, Pocock, half the alpha late": [(0, minutes, 0.5, "pocock"), (middle, 5, 0.5, "obf")],
        "late window only": [(middle, 5, 1.0, "obf")],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=20261208)
    parser.add_argument("--late-share", type=float, default=0.85)
    args = parser.parse_args()
    fixed = upper_quantile(METRIC_ALPHA) + upper_quantile(1.0 - POWER)
    cases = (("dev errors x3", 56, 20.0), ("prod latency +20 %", 14, 5.25))
    print(f"{'case':<22}{'min':>4}  {'design':<46}{'false':>7}{'start':>7}{'med':>5}{'mid':>7}{'med':>5}")
    for label, minutes, limit in cases:
        theta = fixed / math.sqrt(limit)
        for name, design in designs(minutes, args.late_share).items():
            rng = np.random.default_rng(args.seed)
            noise = rng.standard_normal((args.reps, minutes))
            row = [first_rollback(noise, minutes, design)]
            for onset in (0, math.ceil(minutes / 2)):
                row.append(first_rollback(noise + theta * (np.arange(minutes) >= onset), minutes, design))
            false = np.isfinite(row[0]).mean()
            cells = "".join(
                f"{np.isfinite(found).mean():>7.3f}{np.median(found[np.isfinite(found)]):>5.0f}" for found in row[1:]
            )
            print(f"{label:<22}{minutes:>4}  {name:<46}{false:>7.4f}{cells}")


if __name__ == "__main__":
    main()
