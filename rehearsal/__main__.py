"""`python -m rehearsal [--output DIR] [--strategy S] [--config FILE]`: play the release rehearsal of the configured
model along the configured promotion chain and report; exit 1 if any check fails, 2 if the configuration cannot be
rehearsed (one line)."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from rehearsal import drift_scenario
from rehearsal.scenario import CANDIDATES, ReleaseOutcome, rehearsal_world
from rehearsal.summary import canary_reports, final_checks, trust_checks, write_timeline
from rehearsal.trust_chain import play_attacks, release_through_chain
from rehearsal.world import CONFIG_FILE
from safedeploy.errors import ConfigError
from safedeploy.strategies import STRATEGIES
from testbed import iam_enforcement


def run(
    output: Path, seed: int = 20261124, say=print, strategy: str | None = None, config_file: Path = CONFIG_FILE
) -> dict[str, bool]:
    output.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory() as work,
        rehearsal_world(Path(work), say, seed, strategy, config_file) as rehearsal,
    ):
        settings = rehearsal.world.config.endpoint
        say(f"rehearsing {rehearsal.world.naming.prefix} on moto: endpoint {rehearsal.world.naming.endpoint}")
        say(f"strategy {settings.strategy.name}: {settings.traffic_share().describe()}")
        say(f"chain: {' -> '.join(world.naming.env for world in rehearsal.chain)}")
        live = rehearsal.release("live model", None)
        candidates: list[ReleaseOutcome] = [rehearsal.release(f"{c.name}", c.behaviour) for c in CANDIDATES]
        good = next(outcome for outcome in candidates if outcome.name == "good")
        released = release_through_chain(rehearsal, good)
        attacks = play_attacks(rehearsal, good)
        checks = {**final_checks(rehearsal, live, candidates), **trust_checks(rehearsal, good, released, attacks)}
        checks |= drift_scenario.play(rehearsal.server, rehearsal.world, say, iam=rehearsal.iam)
        denials = iam_enforcement.recorded()
        checks["every call allowed by the synthesized IAM"] = not denials
        for denial in denials:
            say(f"  {denial}")
        reports = canary_reports(rehearsal, output, candidates)
    write_timeline(output / "timeline.json", [live, *candidates, *released], checks, attacks)
    say(f"\nsummary ({time.perf_counter() - started:.0f} s):")
    for candidate, outcome in zip(CANDIDATES, candidates, strict=True):
        say(f"  {candidate.name} candidate: {outcome.result} (expected {candidate.expected}; {outcome.ended_by})")
    for outcome in released:
        say(f"  {outcome.environment}: {outcome.result} ({outcome.package_arn})")
    for attack in attacks:
        say(f"  attack {attack.attack}: {'refused' if attack.refused else 'NOT REFUSED'}: {attack.line}")
    for check, passed in checks.items():
        say(f"  [{'ok' if passed else 'FAILED'}] {check}")
    say(f"timeline: {output / 'timeline.json'}; canary reports: {', '.join(str(path) for path in reports)}")
    return checks


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m rehearsal", description=__doc__)
    parser.add_argument("--output", type=Path, default=Path("rehearsal-output"), help="default: %(default)s")
    parser.add_argument("--seed", type=int, default=20261124, help="traffic randomness (default: %(default)s)")
    parser.add_argument(
        "--strategy",
        choices=list(STRATEGIES),
        help="play the training environment's deployments with this strategy instead of the one cdk.json configures",
    )
    parser.add_argument(
        "--config", type=Path, default=CONFIG_FILE, help="the cdk.json to rehearse (default: the project's)"
    )
    args = parser.parse_args()
    try:
        checks = run(args.output, args.seed, strategy=args.strategy, config_file=args.config)
    except ConfigError as error:
        parser.exit(2, f"python -m rehearsal: {args.config}: {error}\n")
    sys.exit(0 if all(checks.values()) else 1)


if __name__ == "__main__":
    main()
