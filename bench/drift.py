"""False drift alarms over 30 days of stable hourly checks, and the hours to detect a 0.5-SD shift in one feature.

Run: `nice .venv/bin/python bench/drift.py [--reps N] [--seed S] [--env dev --env prod] [--shift-sd D]`.

Each replicate draws a fresh training set (the example model's generator, 5000 rows) and computes its baseline, so
the figure includes the baseline's own sampling error, then runs 720 hourly checks of production traffic from the
same population at the environment's declared rate (`expected_requests_per_minute` in cdk.json). Traffic is
bursty: each hour's volume is Poisson around a gamma-distributed rate (coefficient of variation 0.5), and 5 % of
hours are lost entirely. The generator's rows are independent draws from a finite set of cells (63 ages times 128
flag patterns), so an hour's histograms are drawn exactly as a multinomial over the cells, mapped to each column's
bins: the same distribution as binning generated rows, at a cost that does not grow with the traffic. The score is
the generator's true probability, standing in for a model's. Detection shifts the age feature by half its standard
deviation from hour 1 and counts the hours until the check reports drift. The false-alarm bound is Clopper-Pearson's
one-sided 95 % upper limit.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import numpy as np
from scipy.stats import beta

from ml.data import AGE_RANGE, FEATURES, FLAG_EFFECTS, FLAG_RATES, generate
from safedeploy.drift.baseline import Baseline, compute_baseline, sha256_digest
from safedeploy.drift.check import DriftPolicy, run_check
from safedeploy.environment_config import load_config

HOURS = 720
TRAINING_ROWS = 5000
CDK_JSON = Path(__file__).resolve().parents[1] / "cdk.json"


def _scores(features: np.ndarray) -> np.ndarray:
    log_odds = -0.6 - 0.06 * (features[:, 0] - 49.0) + features[:, 1:] @ np.array(FLAG_EFFECTS)
    return 1.0 / (1.0 + np.exp(-log_odds))


def _population() -> tuple[np.ndarray, np.ndarray]:
    """Every distinct row the generator draws, and its probability."""
    ages = np.arange(AGE_RANGE[0], AGE_RANGE[1] + 1, dtype=float)
    patterns = np.array(list(itertools.product((0.0, 1.0), repeat=len(FLAG_RATES))))
    rates = np.array(FLAG_RATES)
    pattern_p = np.prod(np.where(patterns == 1.0, rates, 1.0 - rates), axis=1)
    cells = np.array([[age, *pattern] for age in ages for pattern in patterns])
    return cells, np.tile(pattern_p, ages.size) / ages.size


def _hour_rows(rng: np.random.Generator, per_minute: float) -> int:
    if rng.random() < 0.05:
        return 0
    return int(rng.poisson(rng.gamma(4.0, per_minute * 60 / 4.0)))


def _cell_bins(baseline: Baseline, cells: np.ndarray) -> list[tuple[str, int, np.ndarray]]:
    """Per column: its name, its number of bins and the bin of every cell."""
    columns = [(ref.name, ref.bins, ref.bin_indices(cells[:, i])) for i, ref in enumerate(baseline.features)]
    return [*columns, (baseline.score.name, baseline.score.bins, baseline.score.bin_indices(_scores(cells)))]


def simulate(rng: np.random.Generator, per_minute: float, shift_sd: float, policy: DriftPolicy) -> int | None:
    """Hour of the first drift verdict within 30 days, or None."""
    training = generate(TRAINING_ROWS, int(rng.integers(2**31)))
    baseline = compute_baseline(training.features, FEATURES, _scores(training.features))
    digest = sha256_digest(baseline.to_json())
    cells, probabilities = _population()
    cells[:, 0] += shift_sd * float(cells[:, 0].std())
    columns = _cell_bins(baseline, cells)
    state = None
    for hour in range(1, HOURS + 1):
        drawn = rng.multinomial(_hour_rows(rng, per_minute), probabilities)
        counts = {
            name: np.bincount(index, weights=drawn, minlength=bins).astype(np.int64) for name, bins, index in columns
        }
        check, state = run_check(baseline, digest, counts, state, policy, package_arn="bench", checked_at=str(hour))
        if check.drifted:
            return hour
    return None


def declared_traffic(env: str) -> float:
    """The environment's configured traffic, its default included (cdk.json states only what differs)."""
    config = load_config(json.loads(CDK_JSON.read_text())["context"])
    return float(config.environments[env].endpoint.canary.expected_requests_per_minute)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument("--env", action="append", help="environments of cdk.json whose traffic to use (dev, prod)")
    parser.add_argument("--shift-sd", type=float, default=0.5, help="detection: shift of f0 in standard deviations")
    args = parser.parse_args()
    policy = DriftPolicy()
    for env in args.env or ["dev", "prod"]:
        per_minute = declared_traffic(env)
        rng = np.random.default_rng(args.seed)
        started = time.perf_counter()
        alarms = sum(simulate(rng, per_minute, 0.0, policy) is not None for _ in range(args.reps))
        upper = float(beta.ppf(0.95, alarms + 1, args.reps - alarms)) if alarms < args.reps else 1.0
        print(f"{env}: {per_minute:g} req/min, {HOURS} hourly checks per period, alpha {policy.alpha} per period")
        print(f"  stable periods with any false drift alarm: {alarms}/{args.reps} (95 % upper bound {upper:.3f})")
        detect_reps = max(20, args.reps // 5)
        hours = [simulate(rng, per_minute, args.shift_sd, policy) for _ in range(detect_reps)]
        found = sorted(hour for hour in hours if hour is not None)
        median = f"{np.median(found):g}" if found else "-"
        longest = max(found, default="-")
        shift = f"{args.shift_sd:g}-SD shift in f0"
        print(f"  {shift}: detected in {len(found)}/{detect_reps}; hours: median {median}, max {longest}")
        print(f"  ({time.perf_counter() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
