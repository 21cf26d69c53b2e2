"""False alarms and detection time of the sample-ratio check, on the shipped dev and prod configurations.

Run: `.venv/bin/python bench/sample_ratio.py [--runs N] [--seed S]` (about a minute on two cores).

Each simulated deployment has bursty per-minute traffic (negative binomial totals around the configured rate) and
is checked every minute from the moment its traffic came on to the end of the first bake, as the canary Lambda
does. The candidate's requests are binomial at a true fraction: the plan itself, the edge of the tolerated band
(the worst case the false-alarm bound covers), a quarter of the plan, or zero from minute 3 on (a fleet that dies,
publishing zeros or no datapoints at all); and at the plan with each fleet's minutes missing independently 20 % of
the time (missing, not zero).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from safedeploy.canary.fleets import Comparison, Fleet
from safedeploy.canary.sample_ratio import band, check_sample_ratio
from safedeploy.guardrails.settings import DeploymentSettings

START = datetime(2026, 1, 1, tzinfo=UTC)
CONTEXT = json.loads((Path(__file__).resolve().parents[1] / "cdk.json").read_text())["context"]


@dataclass(frozen=True)
class Scenario:
    name: str
    fraction: float
    dies_at: int | None = None
    silent_value: float = 0.0  # what a dead fleet's minutes read as: zero requests, or no datapoint (NaN)
    missing: float = 0.0  # share of fleet-minutes CloudWatch leaves out (or has not delivered yet)


def run(settings: DeploymentSettings, scenario: Scenario, runs: int, rng: np.random.Generator) -> tuple[float, float]:
    """(share of deployments flagged, median minutes to the flag among those flagged)."""
    planned = settings.traffic_share().first
    fleet = Fleet("f", (("EndpointName", "e"),))
    comparison = Comparison("e", "v2", settings.strategy, START, fleet, fleet, planned, planned, START, True)
    minutes = max(2, settings.wait_interval_seconds // 60)
    looks = max(1, settings.max_execution_timeout_seconds // 60)
    rate = settings.canary.expected_requests_per_minute
    grid = [START + timedelta(minutes=index) for index in range(minutes)]
    flagged = []
    for _ in range(runs):
        totals = rng.negative_binomial(2, 2 / (2 + rate), size=minutes)
        candidate = rng.binomial(totals, scenario.fraction).astype(float)
        if scenario.dies_at is not None:
            candidate[scenario.dies_at :] = scenario.silent_value
        baseline = totals - np.nan_to_num(candidate)
        baseline[rng.random(minutes) < scenario.missing] = np.nan
        candidate[rng.random(minutes) < scenario.missing] = np.nan
        for look in range(2, minutes + 1):
            found = check_sample_ratio(
                comparison, grid[:look], baseline[:look], candidate[:look], settings.sample_ratio, looks
            )
            if found.mismatch:
                flagged.append(look)
                break
    return len(flagged) / runs, float(np.median(flagged)) if flagged else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    for env, raw in CONTEXT["environments"].items():
        settings = DeploymentSettings.from_mapping(raw["endpoint"])
        planned = settings.traffic_share().first
        print(
            f"{env}: {settings.traffic_share().describe()}; {settings.canary.expected_requests_per_minute} req/min, "
            f"bake {settings.wait_interval_seconds // 60} min, alpha {settings.sample_ratio.alpha:g} per deployment"
        )
        for scenario in (
            Scenario("at the plan", planned),
            Scenario("at the band's edge", band(planned)[0]),
            Scenario("a quarter of the plan", planned / 4),
            Scenario("silent from minute 3", planned, dies_at=3),
            Scenario("no datapoints from min. 3", planned, dies_at=3, silent_value=np.nan),
            Scenario("20 % of minutes missing", planned, missing=0.2),
        ):
            share, median = run(settings, scenario, args.runs, rng)
            print(f"  {scenario.name:24s} flagged {share:.4f} of {args.runs} deployments, median at minute {median:g}")


if __name__ == "__main__":
    main()
