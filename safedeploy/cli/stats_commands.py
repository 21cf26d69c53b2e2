"""`safedeploy plan`, `boundaries` and `analyze`: the canary statistics engine from a shell.

All three print a human table, or with `--json` the JSON document. `plan --env E` prints the bake synth plans for
environment E from cdk.json (the same planner, offline); `plan --kind ...` plans one metric's test on its own.
`analyze` exits 0 for PROMOTE, 10 for CONTINUE and 20 for ROLLBACK, so a script can branch on the verdict; any bad
input exits 2 with one line naming what is wrong.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from safedeploy.canary.traffic_profile import DAYS, read_profile
from safedeploy.cli import CliError
from safedeploy.cli.aws_session import CONFIG_FILE, add_environment_arguments, environment, session
from safedeploy.cli.config_commands import read_config
from safedeploy.cli.exit_codes import ExitCode
from safedeploy.cli.human_output import render
from safedeploy.cli.number_arguments import whole_number_in
from safedeploy.cli.power_chart import write_power_chart
from safedeploy.decision import Decision
from safedeploy.guardrails.bake import (
    MAX_BAKE_SECONDS,
    bake_plan,
    bake_report,
    canary_options,
    measured_settings,
    power_curve,
)
from safedeploy.guardrails.deploy_target import DeployTarget
from safedeploy.stats import canary_verdict, plan_canary, spending_boundaries
from safedeploy.stats.boundaries import MAX_LOOKS
from safedeploy.stats.json_fields import json_object, json_safe
from safedeploy.stats.normal import upper_tail_scalar
from safedeploy.stats.spending import SPENDING_NAMES, cumulative_alpha
from safedeploy.strategies.canary import CANARY

VERDICT_EXIT_CODES = {
    Decision.PROMOTE: ExitCode.OK,
    Decision.CONTINUE: ExitCode.VERDICT_CONTINUE,
    Decision.ROLLBACK: ExitCode.VERDICT_ROLLBACK,
}
_FORMULA_ARGUMENTS = ("kind", "baseline", "mde", "requests_per_minute", "canary_share")
CHART_MINUTES = list(range(2, 61))


def register(subparsers: Any) -> None:
    plan = subparsers.add_parser(
        "plan",
        help="the bake an environment's canary needs, or the samples one metric's harm test needs",
        description="With --env alone: the bake synth plans for the environment from cdk.json (offline), with the "
        "power per metric. With --from-endpoint: the bake on the traffic its endpoint had. With --kind and the "
        "numbers: one metric's one-sided harm test on its own (samples per fleet, horizon, bake time), at the full "
        "alpha and without the per-metric split and late window an environment's plan adds.",
    )
    plan.add_argument("--kind", choices=("proportion", "mean"), help="rate (errors) or mean (latency)")
    plan.add_argument("--baseline", type=float, help="current rate or mean of the metric")
    plan.add_argument("--sigma", type=float, help="per-request standard deviation (mean metrics)")
    plan.add_argument("--mde", type=float, help="smallest harmful change to detect, in metric units")
    plan.add_argument("--requests-per-minute", type=float, help="endpoint traffic (samples/minute)")
    plan.add_argument("--canary-share", type=float, help="fraction of traffic on the candidate")
    plan.add_argument("--alpha", type=float, default=0.05, help="one-sided false-rollback rate (default: 0.05)")
    plan.add_argument("--power", type=float, default=0.9, help="chance to catch the change (default: 0.9)")
    plan.add_argument(
        "--looks", type=whole_number_in(1, MAX_LOOKS), default=10, help=f"planned analyses, 1-{MAX_LOOKS} (default: 10)"
    )
    plan.add_argument("--spending", choices=SPENDING_NAMES, default="obf", help="alpha spending (default: obf)")
    plan.add_argument(
        "--from-endpoint",
        action="store_true",
        help=f"read the endpoint's last {DAYS} days from CloudWatch (needs --env) and plan its canary",
    )
    plan.add_argument("--chart", default="canary-power.png", help="PNG of power versus bake minutes (--from-endpoint)")
    add_environment_arguments(plan)
    add_json_argument(plan)
    plan.set_defaults(func=run_plan)

    boundaries = subparsers.add_parser(
        "boundaries",
        help="group-sequential z boundaries from Lan-DeMets alpha spending",
        description="Print the z boundary of every look for equally spaced or given information fractions.",
    )
    looks = boundaries.add_mutually_exclusive_group(required=True)
    looks.add_argument(
        "--looks", type=whole_number_in(1, MAX_LOOKS), help=f"number of equally spaced looks (1-{MAX_LOOKS})"
    )
    looks.add_argument("--fractions", help="comma-separated increasing information fractions in (0, 1]")
    boundaries.add_argument("--alpha", type=float, default=0.05, help="total type-I error (default: 0.05)")
    boundaries.add_argument("--spending", choices=SPENDING_NAMES, default="obf", help="(default: obf)")
    boundaries.add_argument("--sides", type=int, choices=(1, 2), default=2, help="(default: 2)")
    add_json_argument(boundaries)
    boundaries.set_defaults(func=run_boundaries)

    analyze = subparsers.add_parser(
        "analyze",
        help="canary verdict from a JSON file of fleet aggregates and a policy",
        description='Verdict for {"policy": {...}, "observations": {...}} (see docs/statistics.md); '
        "exit 0 PROMOTE, 10 CONTINUE, 20 ROLLBACK.",
    )
    analyze.add_argument("file", help="JSON file, or - for standard input")
    add_json_argument(analyze)
    analyze.set_defaults(func=run_analyze)


def add_json_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the JSON document instead of a table")


def _print(args: argparse.Namespace, document: dict[str, Any]) -> None:
    safe = json_safe(document)
    print(json.dumps(safe, indent=2, allow_nan=False) if args.json else render(safe))


def run_plan(args: argparse.Namespace) -> int:
    if args.from_endpoint:
        return run_endpoint_plan(args)
    given = [name for name in _FORMULA_ARGUMENTS if getattr(args, name) is not None]
    if not given and args.env:
        return run_environment_plan(args)
    missing = [f"--{name.replace('_', '-')}" for name in _FORMULA_ARGUMENTS if getattr(args, name) is None]
    if missing:
        raise CliError(f"{', '.join(missing)} required (or --env <env> for the bake synth plans from cdk.json)")
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
    _print(args, {"inputs": inputs, "plan": plan.to_dict()})
    if not args.json:
        print("(one metric at the full alpha; `safedeploy plan --env <env>` prints the bake synth plans)")
    return 0


def run_environment_plan(args: argparse.Namespace) -> int:
    """The bake synth configures for the environment, and each metric's power in it: the same plan, offline."""
    config = read_config(CONFIG_FILE)
    if args.env not in config.environments:
        raise CliError(f"--env {args.env!r} is not in {CONFIG_FILE} ({', '.join(config.environments)})")
    settings = config.environments[args.env].endpoint
    if settings.strategy.step is None:
        raise CliError(
            f"environment {args.env!r} deploys with strategy {settings.strategy.name!r}, which has no bake to plan "
            f"(it waits {settings.wait_interval_seconds} s per step)"
        )
    report = bake_report(args.env, settings)
    if args.json:
        _print(args, {"environment": args.env, "plan": bake_plan(settings).to_dict(), "report": report})
    else:
        print("\n".join([*report, render({"metrics": [metric.to_dict() for metric in bake_plan(settings).metrics]})]))
    return 0


def run_boundaries(args: argparse.Namespace) -> int:
    fractions = _fractions(args)
    values = spending_boundaries(fractions, args.alpha, args.spending, args.sides)
    side_alpha = args.alpha / args.sides
    _print(
        args,
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
        },
    )
    return 0


def _fractions(args: argparse.Namespace) -> list[float]:
    if args.fractions is None:
        return [k / args.looks for k in range(1, args.looks + 1)]
    items = args.fractions.split(",")
    if len(items) > MAX_LOOKS:
        raise CliError(f"--fractions gives {len(items)} looks; at most {MAX_LOOKS}")
    try:
        return [float(item) for item in items]
    except ValueError:
        raise CliError(f"--fractions must be comma-separated numbers, got {args.fractions!r}") from None


def run_analyze(args: argparse.Namespace) -> int:
    document = json_object(_read_json(args.file), args.file, required=("policy", "observations"))
    verdict = canary_verdict(document["observations"], document["policy"])
    _print(args, verdict.to_dict())
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


def run_endpoint_plan(args: argparse.Namespace) -> int:
    """Bake, canary size and power per metric from the endpoint's real traffic, with a power-versus-bake chart."""
    project, env = environment(args)
    aws = session(args)
    target = DeployTarget.load(aws.client("ssm"), project, env)
    profile = read_profile(aws.client("cloudwatch"), target.endpoint_name, datetime.now(UTC))
    configured = target.guardrails.settings
    measured = measured_settings(
        configured, profile.quietest_requests_per_minute, profile.error_rate, profile.latency_log_sigma
    )
    plan = bake_plan(measured)
    document: dict[str, Any] = {
        "endpoint": profile.to_dict(),
        "configured_bake_seconds": configured.wait_interval_seconds,
        "plan_at_configured_bake": plan.to_dict(),
        "summary": plan.summary(),
    }
    if measured.strategy is CANARY:
        options = canary_options(measured)
        fitting = [(instances, option) for instances, option in options if option.needed_seconds <= MAX_BAKE_SECONDS]
        document["canary_sizes"] = [
            {"instances": instances, "share": option.candidate_share, "bake_needed_seconds": option.needed_seconds}
            for instances, option in options
        ]
        document["recommended"] = (
            {"canary_instances": fitting[0][0], "wait_interval_seconds": fitting[0][1].needed_seconds}
            if fitting
            else None
        )
    write_power_chart(args.chart, CHART_MINUTES, power_curve(measured, CHART_MINUTES), measured.canary.power, env)
    document["chart"] = args.chart
    _print(args, document)
    return 0
