"""False drift alarms over 30 days of stable hourly checks, and the hours to detect a 0.5-SD shift in one feature.

Run: `.venv/bin/python bench/drift.py [--reps N] [--seed S] [--requests-per-minute R]`.

Each replicate draws a fresh training set (the example model's generator, 5000 rows) and computes its baseline, so
the figure includes the baseline's own sampling error, then runs 720 hourly checks on production rows from the same
generator. Traffic is bursty: each hour's volume is Poisson around a gamma-distributed rate (coefficient of
variation 0.5) at the declared requests per minute, and 5 % of hours are lost entirely. The score is the generator's
true probability, standing in for a model's. Detection shifts the age feature by half its standard deviation from
hour 1 and counts the hours until the check reports drift.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from ml.data import FEATURES, FLAG_EFFECTS, generate
from safedeploy.drift.baseline import compute_baseline, sha256_digest
from safedeploy.drift.check import DriftPolicy, run_check

HOURS = 720
TRAINING_ROWS = 5000


def _scores(features: np.ndarray) -> np.ndarray:
    log_odds = -0.6 - 0.06 * (features[:, 0] - 49.0) + features[:, 1:] @ np.array(FLAG_EFFECTS)
    return 1.0 / (1.0 + np.exp(-log_odds))


def _hour_rows(rng: np.random.Generator, per_minute: float) -> int:
    if rng.random() < 0.05:
        return 0
    return int(rng.poisson(rng.gamma(4.0, per_minute * 60 / 4.0)))


def _counts(baseline, rows: np.ndarray) -> dict[str, np.ndarray]:
    counts = {
        name: reference.counts(rows[:, column])
        for column, (name, reference) in enumerate((reference.name, reference) for reference in baseline.features)
    }
    counts[baseline.score.name] = baseline.score.counts(_scores(rows))
    return counts


def simulate(rng: np.random.Generator, per_minute: float, shift_sd: float, policy: DriftPolicy) -> int | None:
    """Hour of the first drift verdict within 30 days, or None."""
    training = generate(TRAINING_ROWS, int(rng.integers(2**31)))
    baseline = compute_baseline(training.features, FEATURES, _scores(training.features))
    digest = sha256_digest(baseline.to_json())
    shift = shift_sd * float(training.features[:, 0].std())
    state = None
    for hour in range(1, HOURS + 1):
        n = _hour_rows(rng, per_minute)
        rows = generate(max(n, 10), int(rng.integers(2**31))).features[:n]
        rows[:, 0] += shift
        check, state = run_check(
            baseline, digest, _counts(baseline, rows), state, policy, package_arn="bench", checked_at=str(hour)
        )
        if check.drifted:
            return hour
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument("--requests-per-minute", type=float, default=100.0, help="dev declares 100, prod 1000")
    args = parser.parse_args()
    policy = DriftPolicy()
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    alarms = [simulate(rng, args.requests_per_minute, 0.0, policy) for _ in range(args.reps)]
    false_rate = sum(hour is not None for hour in alarms) / args.reps
    se = (false_rate * (1 - false_rate) / args.reps) ** 0.5
    print(f"stable, {HOURS} hourly checks, {args.requests_per_minute:g} req/min, alpha {policy.alpha} per period:")
    print(f"  periods with any false drift alarm: {false_rate:.3f} (+/- {1.96 * se:.3f}), {args.reps} replicates")
    detect_reps = max(20, args.reps // 5)
    hours = [simulate(rng, args.requests_per_minute, 0.5, policy) for _ in range(detect_reps)]
    found = sorted(hour for hour in hours if hour is not None)
    print(
        f"0.5-SD shift in f0: detected in {len(found)}/{detect_reps}; hours to detect: median "
        f"{np.median(found) if found else float('nan'):g}, max {max(found) if found else float('nan')}"
    )
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
