"""`safedeploy plan`, `boundaries` and `analyze`: the canary statistics engine from a shell.

All three print JSON on stdout. `analyze` exits 0 for PROMOTE, 10 for CONTINUE and 20 for ROLLBACK, so a
script can branch on the verdict; any bad input exits 2 with one line naming what is wrong.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, NoReturn

from safedeploy.cli import CliError
from safedeploy.cli.exit_codes import ExitCode
from safedeploy.stats import canary_verdict, plan_canary, spending_boundaries
from safedeploy.stats.json_fields import json_object, json_safe
from safedeploy.stats.normal import upper_tail_scalar
from safedeploy.stats.spending import SPENDING_NAMES, cumulative_alpha

VERDICT_EXIT_CODES = {
    "PROMOTE": ExitCode.OK,
    "CONTINUE": ExitCode.VERDICT_CONTINUE,
    "ROLLBACK": ExitCode.VERDICT_ROLLBACK,
}


def register(subparsers: Any) -> None:
    plan = _one_line_errors(
        subparsers.add_parser(
            "plan",
            help="samples and bake time a canary needs to detect a harmful change",
            description="Plan the one-sided harm test of one metric: samples per fleet, policy horizon, bake time.",
        )
    )
    plan.add_argument("--kind", required=True, choices=("proportion", "mean"), help="rate (errors) or mean (latency)")
    plan.add_argument("--baseline", required=True, type=float, help="current rate or mean of the metric")
    plan.add_argument("--sigma", type=float, help="per-request standard deviation (mean metrics)")
    plan.add_argument("--mde", required=True, type=float, help="smallest harmful change to detect, in metric units")
    plan.add_argument("--requests-per-minute", required=True, type=float, help="endpoint traffic (samples/minute)")
    plan.add_argument("--canary-share", required=True, type=float, help="fraction of traffic on the candidate")
    plan.add_argument("--alpha", type=float, default=0.05, help="one-sided false-rollback rate (default: 0.05)")
    plan.add_argument("--power", type=float, default=0.9, help="chance to catch the change (default: 0.9)")
    plan.add_argument("--looks", type=int, default=10, help="planned analyses (default: 10)")
    plan.add_argument("--spending", choices=SPENDING_NAMES, default="obf", help="alpha spending (default: obf)")
    plan.set_defaults(func=run_plan)

    boundaries = _one_line_errors(
        subparsers.add_parser(
            "boundaries",
            help="group-sequential z boundaries from Lan-DeMets alpha spending",
            description="Print the z boundary of every look for equally spaced or given information fractions.",
        )
    )
    looks = boundaries.add_mutually_exclusive_group(required=True)
    looks.add_argument("--looks", type=int, help="number of equally spaced looks")
    looks.add_argument("--fractions", help="comma-separated increasing information fractions in (0, 1]")
    boundaries.add_argument("--alpha", type=float, default=0.05, help="total type-I error (default: 0.05)")
    boundaries.add_argument("--spending", choices=SPENDING_NAMES, default="obf", help="(default: obf)")
    boundaries.add_argument("--sides", type=int, choices=(1, 2), default=2, help="(default: 2)")
    boundaries.set_defaults(func=run_boundaries)

    analyze = _one_line_errors(
        subparsers.add_parser(
            "analyze",
            help="canary verdict from a JSON file of fleet aggregates and a policy",
            description='Verdict for {"policy": {...}, "observations": {...}} (see docs/statistics.md); '
            "exit 0 PROMOTE, 10 CONTINUE, 20 ROLLBACK.",
        )
    )
    analyze.add_argument("file", help="JSON file, or - for standard input")
    analyze.set_defaults(func=run_analyze)


def _one_line_errors(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Usage mistakes are reported like every other bad input: one line, exit 2."""

    def error(message: str) -> NoReturn:
        parser.exit(2, f"{parser.prog}: error: {message}\n")

    parser.error = error  # type: ignore[method-assign]
    return parser


def _print_json(document: dict[str, Any]) -> None:
    print(json.dumps(json_safe(document), indent=2, allow_nan=False))


def run_plan(args: argparse.Namespace) -> int:
    plan = plan_canary(
        args.kind,
        args.baseline,
        args.mde,
        args.requests_per_minute,
        args.canary_share,
        sigma=args.sigma,
        alpha=args.alpha,
        power=args.power,
        looks=args.looks,
        spending=args.spending,
    )
    inputs = {name: getattr(args, name) for name in ("baseline", "sigma", "mde", "alpha", "power", "looks", "spending")}
    inputs |= {"requests_per_minute": args.requests_per_minute, "canary_share": args.canary_share}
    _print_json({"inputs": inputs, "plan": plan.to_dict()})
    return 0


def run_boundaries(args: argparse.Namespace) -> int:
    fractions = _fractions(args)
    values = spending_boundaries(fractions, args.alpha, args.spending, args.sides)
    side_alpha = args.alpha / args.sides
    _print_json(
        {
            "alpha": args.alpha,
            "spending": args.spending,
            "sides": args.sides,
            "information_fractions": fractions,
            "boundaries": values,
            "nominal_p_values": [args.sides * upper_tail_scalar(value) for value in values],
            "cumulative_alpha": [
                args.sides * spent for spent in cumulative_alpha(args.spending, side_alpha, fractions)
            ],
        }
    )
    return 0


def _fractions(args: argparse.Namespace) -> list[float]:
    if args.fractions is None:
        if args.looks < 1:
            raise CliError(f"--looks must be at least 1, got {args.looks}")
        return [k / args.looks for k in range(1, args.looks + 1)]
    try:
        return [float(item) for item in args.fractions.split(",")]
    except ValueError:
        raise CliError(f"--fractions must be comma-separated numbers, got {args.fractions!r}") from None


def run_analyze(args: argparse.Namespace) -> int:
    document = json_object(_read_json(args.file), args.file, required=("policy", "observations"))
    verdict = canary_verdict(document["observations"], document["policy"])
    _print_json(verdict.to_dict())
    return VERDICT_EXIT_CODES[verdict.decision]


def _read_json(name: str) -> Any:
    try:
        text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
    except OSError as error:
        raise CliError(f"cannot read {name}: {error.strerror}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise CliError(f"{name} is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
