"""Monte Carlo of the canary verdict on realistic traffic, fed exactly what the analysis Lambda builds.

Every replication draws requests minute by minute for two fleets (bursty traffic, rare and clustered errors,
heavy-tailed latency, lost, late and missing minutes, shared drift, candidates that turn bad mid-bake), aggregates
them the way CloudWatch returns them to the Lambda (per minute: Invocations and Invocation5XXErrors sums,
ModelLatency SampleCount, Average and p50 per fleet; a fleet-minute CloudWatch left out has no datapoint), and runs
what `analyze_endpoint` runs on them: the reader's `fleet_readings`, `canary_verdict` with the policy
`safedeploy.canary.policy.canary_policy` builds from the environment's settings in `cdk.json`, and the sample-ratio
check at every minute. The verdict replays every look, so one call on a bake's minutes returns the decision, and the
minute, that calling it every minute would have reached first; `--replay-check` replications per scenario are also
called minute by minute and must agree (scenarios with late minutes are always called minute by minute). Next to
it, the textbook schedule (two-sided z at alpha / sqrt(K / i) at the same K looks: pooled two-proportion z for
errors, z on the per-minute Averages for latency) judges the same data, and for every harmful scenario the oracle
columns give how often, and at which median minute, Wald's SPRT that knows the truth (effect and onset) rolls back
in the bake, and the engine's median over the oracle's.

Run: `.venv/bin/python bench/canary_scenarios.py [--full] [--jobs 2] [--seed 20261201] [--heavy]` (default 500 and
300 replications, a few minutes on two cores; `--full` gives the 2,000 / 1,000 of the figures in the docs, about 20
minutes on two shared cores).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import statistics
import time
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np

from safedeploy.canary.fleets import Comparison, Fleet
from safedeploy.canary.metric_reader import fleet_readings
from safedeploy.canary.metrics import MICROSECONDS_PER_MS
from safedeploy.canary.policy import canary_policy, guarded
from safedeploy.canary.sample_ratio import check_sample_ratio
from safedeploy.decision import Decision
from safedeploy.guardrails.bake import bake_plan
from safedeploy.guardrails.settings import DeploymentSettings
from safedeploy.stats import CanaryObservations, CanaryPolicy, canary_verdict
from safedeploy.stats.bake_plan import ALARM_LAG_MINUTES
from safedeploy.stats.comparison_series import cumulative_comparison
from safedeploy.stats.monitors import _planned_looks
from safedeploy.stats.normal import MEDIAN_VARIANCE_FACTOR, upper_quantile
from safedeploy.stats.oracle import ORACLE_THRESHOLD
from safedeploy.strategies import DeploymentStrategy
from safedeploy.strategies.ab import AB_TEST
from safedeploy.strategies.shadow import SHADOW

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2026, 1, 1, tzinfo=UTC)
BASE_LATENCY_MS = 100.0
CHUNK_REPS = 100


def environment(name: str, **canary: Any) -> DeploymentSettings:
    raw = json.loads((ROOT / "cdk.json").read_text())["context"]["environments"][name]["endpoint"]
    raw = {**raw, "canary": {**raw.get("canary", {}), **canary}}
    return DeploymentSettings.from_mapping(raw, f"environments.{name}.endpoint")


@dataclass(frozen=True)
class Scenario:
    """What the traffic does; `share` None takes the environment's instance-granular share."""

    name: str
    settings: DeploymentSettings
    experiment: DeploymentStrategy | None = None  # None: the settings' own (blue/green) strategy
    healthy: bool = True
    requests_per_minute: float | None = None  # None: the declared quiet-hour traffic
    share: float | None = None
    traffic_cv: float = 0.0  # per-minute gamma-Poisson burstiness
    missing: float = 0.0  # share of fleet-minutes CloudWatch leaves out, independently per fleet
    missing_both: float = 0.0  # share of minutes CloudWatch leaves out for both fleets (a gap)
    late_newest: float = 0.0  # share of analyses at which one fleet's newest minute has not arrived yet
    p50_missing: float = 0.0  # share of fleet-minutes with requests whose p50 CloudWatch leaves out
    error_rate: float = 0.01
    error_ratio: float = 1.0  # candidate / baseline once harmful
    error_shape: float | None = None  # gamma shape of a fleet-minute's error-rate multiplier (clustering)
    drift_errors: float = 0.0  # log-sd of a per-minute multiplier both fleets share
    drift_latency: float = 0.0
    log_sigma: float = 0.5
    latency_ratio: float = 1.0
    onset_fraction: float = 0.0  # harm starts at this fraction of the analysed minutes
    onset_minute: int | None = None  # or at this minute (counted from 0)
    minutes: int | None = None  # None: the bake's analysable minutes (blue/green) or the promotion horizon + slack
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def candidate_share(self) -> float:
        if self.share is not None:
            return self.share
        return self.strategy.share(self.settings).observed_fraction

    @property
    def strategy(self) -> DeploymentStrategy:
        return self.experiment or self.settings.strategy

    @property
    def traffic(self) -> float:
        return self.requests_per_minute or float(self.settings.canary.expected_requests_per_minute)

    def onset(self, minutes: int) -> float:
        """The minute (from 0) the harm begins in a bake of `minutes` analysed minutes."""
        return self.onset_minute if self.onset_minute is not None else self.onset_fraction * minutes

    def comparison(self) -> Comparison:
        """The candidate's traffic is on from the first minute, as the sample-ratio check sees it."""
        fleet = Fleet("f", ())
        share = self.candidate_share
        blue_green = self.strategy.guardrails
        return Comparison("e", "d", self.strategy, START, fleet, fleet, share, share, START, blue_green)

    def policy(self, metric_names: set[str] | None = None) -> CanaryPolicy:
        names = {"error_rate", "latency_ms", "latency_p50_ms"} if metric_names is None else metric_names
        return canary_policy(self.settings, self.comparison(), names)

    @property
    def per_minute(self) -> bool:
        """Late data changes what earlier calls saw, so those scenarios are called minute by minute."""
        return self.late_newest > 0.0

    def analysed_minutes(self) -> int:
        if self.minutes is not None:
            return self.minutes
        if self.strategy.guardrails:
            return self.settings.wait_interval_seconds // 60 - ALARM_LAG_MINUTES
        horizon = max(metric.horizon or 0 for metric in self.policy().metrics.values())
        return math.ceil(1.15 * horizon / (self.traffic * self.candidate_share)) + 5


@dataclass
class Minutes:
    """One chunk of replications: arrays (reps, minutes) per fleet (0 baseline, 1 candidate)."""

    counts: np.ndarray  # (2, reps, minutes)
    errors: np.ndarray
    mean_ms: np.ndarray
    p50_ms: np.ndarray
    present: np.ndarray  # False where CloudWatch has no datapoint for the fleet-minute


def draw(scenario: Scenario, rng: np.random.Generator, reps: int, minutes: int) -> Minutes:
    shape = (reps, minutes)
    rate = np.full(shape, scenario.traffic)
    if scenario.traffic_cv > 0:
        k = 1.0 / scenario.traffic_cv**2
        rate = rate * rng.gamma(k, 1.0 / k, shape)
    total = rng.poisson(rate)
    candidate = rng.binomial(total, scenario.candidate_share)
    counts = np.stack([total - candidate, candidate]).astype(float)
    harmful = np.arange(minutes) >= math.floor(scenario.onset(minutes))
    drift_e = np.exp(rng.normal(-0.5 * scenario.drift_errors**2, scenario.drift_errors, shape))
    drift_l = rng.normal(0.0, scenario.drift_latency, shape)
    errors = np.empty_like(counts)
    mean_ms = np.full_like(counts, np.nan)
    p50_ms = np.full_like(counts, np.nan)
    for fleet in (0, 1):
        p = scenario.error_rate * drift_e
        if fleet == 1 and not scenario.healthy:
            p = np.where(harmful, p * scenario.error_ratio, p)
        if scenario.error_shape is not None:
            p = p * rng.gamma(scenario.error_shape, 1.0 / scenario.error_shape, shape)
        errors[fleet] = rng.binomial(counts[fleet].astype(int), np.minimum(p, 1.0))
        shift = np.log(BASE_LATENCY_MS) + drift_l
        if fleet == 1 and not scenario.healthy and scenario.latency_ratio != 1.0:
            shift = np.where(harmful, shift + math.log(scenario.latency_ratio), shift)
        mean_ms[fleet], p50_ms[fleet] = _latency_aggregates(counts[fleet], shift, scenario.log_sigma, rng)
    present = (rng.random(counts.shape) >= scenario.missing) & (rng.random(shape) >= scenario.missing_both)[None]
    served = counts > 0
    p50_ms = np.where(served & (rng.random(counts.shape) >= scenario.p50_missing), p50_ms, np.nan)
    return Minutes(counts, errors, np.where(served, mean_ms, np.nan), p50_ms, present)


def _latency_aggregates(
    counts: np.ndarray, shift: np.ndarray, sigma: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Per-minute Average and p50 of lognormal requests (NaN where a minute had none)."""
    width = int(counts.max()) if counts.size else 0
    if width == 0:
        return np.full(counts.shape, np.nan), np.full(counts.shape, np.nan)
    logs = shift[..., None] + sigma * rng.standard_normal((*counts.shape, width))
    valid = np.arange(width) < counts[..., None]
    values = np.where(valid, np.exp(logs), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN minutes are minutes without requests
        return np.nanmean(values, axis=-1), np.nanmedian(values, axis=-1)


def cloudwatch_values(
    chunk: Minutes, rep: int, upto: int | None = None, late_fleet: int | None = None
) -> dict[tuple[str, str], np.ndarray]:
    """What GetMetricData returns to the analysis called after minute `upto` (NaN where a fleet-minute has no
    datapoint); `late_fleet`'s newest minute has not arrived yet. Latency in microseconds, as SageMaker reports it."""
    end = upto if upto is not None else chunk.counts.shape[2]
    values = {}
    for fleet, role in enumerate(("baseline", "candidate")):
        present = chunk.present[fleet, rep, :end].copy()
        if late_fleet == fleet:
            present[-1] = False
        counts = np.where(present, chunk.counts[fleet, rep, :end], np.nan)
        served = present & (counts > 0)
        values |= {
            (role, "invocations"): counts,
            (role, "errors"): np.where(present, chunk.errors[fleet, rep, :end], np.nan),
            (role, "latency_count"): np.where(served, counts, np.nan),
            (role, "latency_mean"): np.where(served, chunk.mean_ms[fleet, rep, :end] * MICROSECONDS_PER_MS, np.nan),
            (role, "latency_p50"): np.where(served, chunk.p50_ms[fleet, rep, :end] * MICROSECONDS_PER_MS, np.nan),
        }
    return values


def textbook_rollback(data: CanaryObservations, policy: CanaryPolicy) -> int | None:
    """The seed's schedule: at look i of K, harm-side z >= the two-sided critical value at alpha / sqrt(K / i)."""
    first: int | None = None
    for name in ("error_rate", "latency_ms"):
        metric = next(iter(policy.metrics.values()))
        comparison = cumulative_comparison(data.metrics[name], metric.min_periods)
        looks = metric.looks
        periods, _ = _planned_looks(comparison, float(metric.horizon or 0), looks)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = comparison.effect / np.sqrt(comparison.null_variance)
        for index, period in enumerate(periods):
            level = metric.alpha / math.sqrt(looks / (index + 1))
            if z[period] >= upper_quantile(level / 2.0):
                first = int(period) if first is None else min(first, int(period))
                break
    return first


@dataclass
class Tally:
    reps: int = 0
    rollback: list[int] = field(default_factory=list)
    split: list[int] = field(default_factory=list)  # rollbacks by the sample-ratio check (also in `rollback`)
    inconclusive: list[int] = field(default_factory=list)
    promote: list[int] = field(default_factory=list)
    textbook: list[int] = field(default_factory=list)
    oracle: list[float] = field(default_factory=list)  # inf: the oracle did not stop in the bake
    replay_mismatches: int = 0
    replay_checked: int = 0

    def rate(self, minutes: list[int]) -> tuple[float, float]:
        p = len(minutes) / self.reps
        return p, math.sqrt(max(p * (1 - p), 1e-12) / self.reps)


@dataclass(frozen=True)
class Call:
    """What one analysis decided: the verdict's decision and minute, and the sample-ratio check's reason."""

    decision: Decision
    minute: int
    harm: bool
    split: bool


def analyse(scenario: Scenario, values: dict[tuple[str, str], np.ndarray]) -> tuple[Call, CanaryObservations, Any]:
    """One call of the analysis on `values`, as `analyze_endpoint` makes it."""
    readings = fleet_readings(values, has_gateway_feedback=False)
    policy = scenario.policy(set(readings.observations.metrics))
    verdict = canary_verdict(guarded(readings.observations, policy), policy)
    settings = scenario.settings
    minutes = readings.baseline_requests.size
    split = check_sample_ratio(
        scenario.comparison(),
        [START + timedelta(minutes=index) for index in range(minutes)],
        readings.baseline_requests,
        readings.candidate_requests,
        settings.sample_ratio,
        max(1, settings.max_execution_timeout_seconds // 60),
    )
    harm = any(details["status"] == "harmful" for details in verdict.metrics.values())
    decided = Call(verdict.decision, (verdict.period or 0) + 1, harm, bool(split.mismatch))
    return decided, readings.observations, policy


def oracle_minute(scenario: Scenario, chunk: Minutes, rep: int) -> int | None:
    """Wald's SPRT that knows the truth (the error-rate ratio, the latency shift, sigma), on the same comparison the
    engine makes: each minute's errors split between the fleets (an error is the candidate's with probability
    rho pi / (rho pi + 1 - pi) under harm, pi under none) and each minute's log p50 ratio (variance
    (pi / 2) sigma^2 (1 / n_a + 1 / n_b)); alpha 0.05, power 0.9, the minute it crosses log((1 - beta) / alpha). The
    information limit the engine is compared with. It also knows when the harm began and counts only the minutes
    since (a candidate that turns bad mid-bake)."""
    n_a, n_b = chunk.counts[0, rep], chunk.counts[1, rep]
    both = chunk.present[0, rep] & chunk.present[1, rep] & (n_a > 0) & (n_b > 0)
    both &= np.arange(n_a.size) >= math.floor(scenario.onset(n_a.size))
    llr = np.zeros(n_a.size)
    rho = scenario.error_ratio
    if rho != 1.0:
        share = np.where(both, n_b / np.maximum(n_a + n_b, 1.0), 0.5)
        harmful = rho * share / (rho * share + 1.0 - share)
        e_a, e_b = chunk.errors[0, rep], chunk.errors[1, rep]
        minute = e_b * np.log(harmful / share) + e_a * np.log((1.0 - harmful) / (1.0 - share))
        llr += np.where(both, minute, 0.0)
    shift = math.log(scenario.latency_ratio)
    if shift:
        with np.errstate(divide="ignore", invalid="ignore"):
            variance = math.pi / 2 * scenario.log_sigma**2 * (1.0 / n_a + 1.0 / n_b)
            ratio = np.log(chunk.p50_ms[1, rep]) - np.log(chunk.p50_ms[0, rep])
            llr += np.where(both & np.isfinite(ratio), (shift * ratio - shift**2 / 2) / variance, 0.0)
    crossed = np.flatnonzero(np.cumsum(llr) >= ORACLE_THRESHOLD)
    return int(crossed[0]) + 1 if crossed.size else None


def first_split(scenario: Scenario, chunk: Minutes, rep: int, minutes: int) -> int | None:
    """The first call at which the sample-ratio check alone rolls back (data that arrive on time)."""
    values = cloudwatch_values(chunk, rep)
    readings = fleet_readings(values, has_gateway_feedback=False)
    settings = scenario.settings
    grid = [START + timedelta(minutes=index) for index in range(minutes)]
    looks = max(1, settings.max_execution_timeout_seconds // 60)
    comparison = scenario.comparison()
    for upto in range(1, minutes + 1):
        split = check_sample_ratio(
            comparison,
            grid[:upto],
            readings.baseline_requests[:upto],
            readings.candidate_requests[:upto],
            settings.sample_ratio,
            looks,
        )
        if split.mismatch:
            return upto
    return None


def minute_by_minute(scenario: Scenario, chunk: Minutes, rep: int, minutes: int, rng: np.random.Generator) -> Call:
    """Every call as the Lambda makes it, with late newest minutes; the first decision other than CONTINUE."""
    call = Call(Decision.CONTINUE, minutes, False, False)
    for upto in range(1, minutes + 1):
        late = int(rng.integers(2)) if rng.random() < scenario.late_newest else None
        call, _, _ = analyse(scenario, cloudwatch_values(chunk, rep, upto, late))
        if call.split:
            return Call(Decision.ROLLBACK, upto, False, True)
        if call.decision != Decision.CONTINUE:
            return call
    return call


def run(scenario: Scenario, rng: np.random.Generator, reps: int, replay_check: int) -> Tally:
    minutes = scenario.analysed_minutes()
    tally = Tally(reps=reps)
    done = 0
    while done < reps:
        size = min(CHUNK_REPS, reps - done)
        chunk = draw(scenario, rng, size, minutes)
        for rep in range(size):
            if scenario.per_minute:
                call = minute_by_minute(scenario, chunk, rep, minutes, rng)
                data, policy = None, None
            else:
                call, data, policy = analyse(scenario, cloudwatch_values(chunk, rep))
                split = first_split(scenario, chunk, rep, minutes)
                if split is not None and (call.decision == Decision.CONTINUE or split <= call.minute):
                    call = Call(Decision.ROLLBACK, split, False, True)
                else:
                    call = Call(call.decision, call.minute, call.harm, False)
            if call.decision == Decision.ROLLBACK:
                (tally.rollback if call.harm or call.split else tally.inconclusive).append(call.minute)
                if call.split:
                    tally.split.append(call.minute)
            elif call.decision == Decision.PROMOTE:
                tally.promote.append(call.minute)
            if not scenario.healthy:
                oracle = oracle_minute(scenario, chunk, rep)
                tally.oracle.append(math.inf if oracle is None else oracle)
            if data is not None and policy is not None:
                book = textbook_rollback(data, policy)
                if book is not None:
                    tally.textbook.append(book + 1)
                if done + rep < replay_check and not call.split:
                    tally.replay_checked += 1
                    tally.replay_mismatches += _replay_differs(scenario, chunk, rep, minutes, call)
        done += size
    return tally


def _replay_differs(scenario: Scenario, chunk: Minutes, rep: int, minutes: int, whole: Call) -> int:
    """Call the analysis after every minute, as the Lambda does; the first decision must match the single call."""
    for upto in range(1, minutes + 1):
        call, _, _ = analyse(scenario, cloudwatch_values(chunk, rep, upto))
        if call.decision != Decision.CONTINUE:
            differs = (call.decision, call.minute) != (whole.decision, whole.minute)
            if differs:
                print(f"    replay: minute {upto} gave {call.decision} at {call.minute}, the whole bake {whole}")
            return int(differs)
    return int(whole.decision != Decision.CONTINUE)


def scenarios(heavy: bool) -> tuple[list[Scenario], list[Scenario]]:
    dev, prod = environment("dev"), environment("prod")
    tolerant = environment("prod", latency_tolerance_percent=5)
    five = DeploymentSettings.from_mapping(
        {
            **prod.to_dict(),
            "instance_count": 20,
            "canary_size_instances": 1,
            "wait_interval_seconds": "auto",
            "max_execution_timeout_seconds": "auto",
            "autoscaling": {**prod.autoscaling.model_dump(), "min_instances": 20, "max_instances": 20},
            "canary": {**prod.canary.model_dump(), "latency_log_sigma": 0.8},
        }
    )
    healthy = [
        Scenario("baseline: 1 % errors, lognormal sigma 0.5", dev),
        Scenario("bursty traffic (gamma-Poisson, CV 1)", dev, traffic_cv=1.0),
        Scenario("each fleet's minute missing independently 20 %", dev, missing=0.2),
        Scenario("CloudWatch gaps: 20 % of minutes missing for both", dev, missing_both=0.2),
        Scenario("newest minute of one fleet late at 30 % of calls", dev, late_newest=0.3),
        Scenario("3x the declared traffic (300 requests/minute)", dev, requests_per_minute=300),
        Scenario("p50 left out in 5 % of fleet-minutes", dev, p50_missing=0.05, log_sigma=0.8),
        Scenario(
            "latency +5 % (inside the 10 % margin), sigma 0.8", dev, healthy=False, latency_ratio=1.05, log_sigma=0.8
        ),
        Scenario(
            "prod, 5 % tolerance declared: latency +5 %", tolerant, healthy=False, latency_ratio=1.05, log_sigma=1.5
        ),
        Scenario(
            "prod, 5 % tolerance, 3x traffic: latency +5 %",
            tolerant,
            healthy=False,
            requests_per_minute=3000,
            latency_ratio=1.05,
            log_sigma=1.5,
        ),
        Scenario("errors overdispersed within minutes (gamma shape 0.5)", dev, error_shape=0.5),
        Scenario("errors overdispersed and bursty traffic", dev, error_shape=0.5, traffic_cv=1.0),
        Scenario("30 requests/minute, 0.1 % errors", dev, requests_per_minute=30, error_rate=0.001),
        Scenario("10 requests/minute, 0.1 % errors", dev, requests_per_minute=10, error_rate=0.001),
        Scenario("5 % share (1 of 20 instances), 0.1 % errors", five, error_rate=0.001),
        Scenario("instance-granular: 10 % of 3 instances = 1/3", prod),
        Scenario("heavy-tailed latency, lognormal sigma 1.0", dev, log_sigma=1.0),
        Scenario("heavy-tailed latency, lognormal sigma 1.5", dev, log_sigma=1.5),
        Scenario("shared drift (errors x lognormal 0.7, latency 0.3)", dev, drift_errors=0.7, drift_latency=0.3),
        Scenario("A/B healthy (prod, 5 % weight)", prod, AB_TEST, log_sigma=1.0),
        Scenario("shadow healthy (prod, 20 % copies)", prod, SHADOW, log_sigma=1.0),
    ]
    harmful = [
        Scenario("errors 1 % -> 3 %", dev, healthy=False, error_ratio=3.0),
        Scenario("errors 1 % -> 2 % (below the declared x3)", dev, healthy=False, error_ratio=2.0),
        Scenario("prod: errors 1 % -> 3 %", prod, healthy=False, error_ratio=3.0, log_sigma=1.5),
        Scenario("prod: errors 1 % -> 2 %", prod, healthy=False, error_ratio=2.0, log_sigma=1.5),
        Scenario("latency +20 %, lognormal sigma 0.5", dev, healthy=False, latency_ratio=1.2),
        Scenario(
            "latency +20 %, lognormal sigma 0.8 (dev declares 0.8)",
            dev,
            healthy=False,
            latency_ratio=1.2,
            log_sigma=0.8,
        ),
        Scenario(
            "latency +20 %, lognormal sigma 1.5 (prod declares 1.5)",
            prod,
            healthy=False,
            latency_ratio=1.2,
            log_sigma=1.5,
        ),
        Scenario("errors x3 from mid-bake", dev, healthy=False, error_ratio=3.0, onset_fraction=0.5),
        Scenario(
            "3x traffic: errors x3 from minute 30",
            dev,
            healthy=False,
            requests_per_minute=300,
            error_ratio=3.0,
            onset_minute=30,
        ),
        Scenario(
            "3x traffic: errors x10 from minute 40",
            dev,
            healthy=False,
            requests_per_minute=300,
            error_ratio=10.0,
            onset_minute=40,
        ),
        Scenario(
            "3x traffic: latency +20 % (sigma 0.8) from mid-bake",
            dev,
            healthy=False,
            requests_per_minute=300,
            latency_ratio=1.2,
            log_sigma=0.8,
            onset_fraction=0.5,
        ),
        Scenario(
            "latency +20 % (sigma 0.8) from mid-bake",
            dev,
            healthy=False,
            latency_ratio=1.2,
            log_sigma=0.8,
            onset_fraction=0.5,
        ),
        Scenario("prod: errors x3 from mid-bake", prod, healthy=False, error_ratio=3.0, onset_fraction=0.5),
        Scenario("prod, 5 % tolerance: latency +20 %", tolerant, healthy=False, latency_ratio=1.2, log_sigma=1.5),
        Scenario(
            "prod, 5 % tolerance: latency +20 % from mid-bake",
            tolerant,
            healthy=False,
            latency_ratio=1.2,
            log_sigma=1.5,
            onset_fraction=0.5,
        ),
        Scenario(
            "prod: latency +20 % (sigma 1.5) from mid-bake",
            prod,
            healthy=False,
            latency_ratio=1.2,
            log_sigma=1.5,
            onset_fraction=0.5,
        ),
        Scenario(
            "A/B at the latency margin (+10 %, sigma 1.5)",
            prod,
            AB_TEST,
            healthy=False,
            latency_ratio=1.1,
            log_sigma=1.5,
        ),
        Scenario(
            "A/B at the error margin (1 % -> 2 %)",
            prod,
            AB_TEST,
            healthy=False,
            error_ratio=2.0,
            log_sigma=1.0,
        ),
        Scenario("A/B harmful errors x3", prod, AB_TEST, healthy=False, error_ratio=3.0, log_sigma=1.0),
        Scenario("shadow harmful latency +20 %", prod, SHADOW, healthy=False, latency_ratio=1.2, log_sigma=1.0),
    ]
    if heavy:
        healthy.append(Scenario("dev A/B healthy (5 % of 100 requests/minute)", dev, AB_TEST, log_sigma=1.0))
        harmful.append(
            Scenario(
                "dev latency +20 %, sigma 1.5 (dev declares 0.8)", dev, healthy=False, latency_ratio=1.2, log_sigma=1.5
            )
        )
    return healthy, harmful


def median_minute(minutes: list[int] | list[float]) -> str:
    middle = statistics.median(minutes) if minutes else math.inf
    return f"{middle:.0f}" if math.isfinite(middle) else "-"


def oracle_columns(tally: Tally) -> str:
    """The oracle's power in the bake, its median minute (over all replications) and the engine's median over it."""
    if not tally.oracle:
        return f"{'-':>7}{'-':>6}{'-':>6}"
    stopped = sum(math.isfinite(minute) for minute in tally.oracle) / len(tally.oracle)
    oracle = statistics.median(tally.oracle)
    engine = statistics.median(tally.rollback) if tally.rollback else math.inf
    ratio = f"{engine / oracle:.1f}" if math.isfinite(oracle) and math.isfinite(engine) else "-"
    return f"{stopped:>7.3f}{median_minute(tally.oracle):>6}{ratio:>6}"


def report(scenario: Scenario, tally: Tally, seconds: float) -> None:
    minutes = scenario.analysed_minutes()
    rollback, rollback_se = tally.rate(tally.rollback)
    split, _ = tally.rate(tally.split)
    unproven, _ = tally.rate(tally.inconclusive)
    promote, promote_se = tally.rate(tally.promote)
    book, book_se = tally.rate(tally.textbook)
    replay = f"{tally.replay_checked - tally.replay_mismatches}/{tally.replay_checked}"
    print(
        f"{scenario.name:<52}{scenario.traffic:>6.0f}{scenario.candidate_share:>7.3f}{minutes:>5}"
        f"{rollback:>8.3f}±{rollback_se:.3f}{median_minute(tally.rollback):>5}{split:>7.3f}{unproven:>7.3f}"
        f"{promote:>8.3f}±{promote_se:.3f}{median_minute(tally.promote):>5}"
        f"{book:>8.3f}±{book_se:.3f}{median_minute(tally.textbook):>5}{oracle_columns(tally)}{replay:>7}"
        f"{seconds:>6.0f}s"
    )


def header(title: str, reps: int) -> None:
    print(f"\n== {title}, {reps:,} replications each")
    print(
        f"{'scenario':<52}{'rpm':>6}{'share':>7}{'min':>5}{'ROLLBACK':>14}{'med':>5}{'split':>7}{'incon.':>7}"
        f"{'PROMOTE':>14}{'med':>5}{'textbook':>14}{'med':>5}{'oracle':>7}{'med':>6}{'x':>6}{'replay':>7}"
    )


def plans() -> None:
    print("== bakes planned from cdk.json (declared quiet-hour traffic, instance-granular share)")
    for name, extra in (("dev", {}), ("prod", {}), ("prod", {"latency_tolerance_percent": 5})):
        settings = environment(name, **extra)
        plan = bake_plan(settings)
        declared = "".join(f", {key} {value}" for key, value in extra.items())
        print(f"{name}{declared}: wait_interval_seconds auto = {settings.wait_interval_seconds} s; {plan.summary()}")
    try:
        environment("dev", latency_log_sigma=1.5)
    except ValueError as error:
        print(f"dev declaring latency_log_sigma 1.5: refused at synth: {error}")


def _errors_power(minutes: float, candidate: float, baseline: float, rate: float, ratio: float, alpha: float) -> float:
    """Power of the most powerful level-alpha test of errors x `ratio` over `minutes` minutes of harm that knows the
    ratio: given the E errors of both fleets, the candidate's ~ Binomial(E, share) under no harm (randomised, so
    exactly alpha), E ~ Poisson under the harm."""
    from scipy import stats

    share = candidate / (candidate + baseline)
    harmful = candidate * ratio / (candidate * ratio + baseline)
    mean = minutes * rate * (candidate * ratio + baseline)
    power = 0.0
    for errors in range(int(mean + 12 * math.sqrt(mean) + 20)):
        weight = stats.poisson.pmf(errors, mean)
        tails = stats.binom.sf(np.arange(errors + 2) - 1, errors, share)  # P(X >= k), k = 0 .. errors + 1
        k = int(np.argmax(tails <= alpha))
        at = stats.binom.pmf(k - 1, errors, share) if k else 0.0
        randomised = (alpha - tails[k]) / at if at > 0 else 0.0
        power += weight * (
            stats.binom.sf(k - 1, errors, harmful) + randomised * stats.binom.pmf(k - 1, errors, harmful)
        )
    return power


def _latency_power(
    minutes: float, candidate: float, baseline: float, sigma: float, increase: float, alpha: float
) -> float:
    """The same for the per-minute log-median ratio with sigma known."""
    information = minutes / (MEDIAN_VARIANCE_FACTOR * sigma**2 * (1.0 / candidate + 1.0 / baseline))
    return float(NormalDist().cdf(math.log1p(increase) * math.sqrt(information) - upper_quantile(alpha)))


def _minutes_for(power: Any, arguments: tuple[float, ...], target: float) -> float:
    """The shortest stretch of harm, in quarter minutes, at which `power(minutes, *arguments)` reaches `target`."""
    minutes = 0.25
    while power(minutes, *arguments) < target:
        minutes += 0.25
    return minutes


def information_limits() -> None:
    """The shortest bake any test could have for the declared power against harm from mid-bake: even one that knows
    the onset and the effect needs this many minutes of harm (Neyman-Pearson), and mid-bake leaves half the judged
    minutes; at alpha / m (each metric's share of the false-rollback rate) and at the whole alpha (one metric)."""
    print("== information limit of the mid-bake guarantee (a test that knows onset and effect; minutes)")
    for name in ("dev", "prod"):
        settings = environment(name)
        canary, share = settings.canary, bake_plan(settings).candidate_share
        candidate = canary.expected_requests_per_minute * share
        baseline = canary.expected_requests_per_minute - candidate
        errors = (candidate, baseline, canary.baseline_error_rate, canary.error_rate_mde_ratio)
        latency = (candidate, baseline, canary.latency_log_sigma, canary.latency_mde_percent / 100)
        for alpha in (canary.alpha / 2, canary.alpha):
            needed = {
                "errors": _minutes_for(_errors_power, (*errors, alpha), canary.power),
                "latency": _minutes_for(_latency_power, (*latency, alpha), canary.power),
            }
            bake = 2 * max(needed.values()) + ALARM_LAG_MINUTES
            harm = ", ".join(f"{metric} {value:g}" for metric, value in needed.items())
            print(
                f"{name} at alpha {alpha:g}: minutes of harm for power {canary.power:g}: {harm}; bake >= {bake:g} min"
            )


def _job(job: tuple[str, int, Scenario, int, int, int]) -> tuple[str, int, Scenario, Tally, float]:
    group, index, scenario, reps, seed, replay_check = job
    rng = np.random.default_rng([seed, index, int(scenario.healthy)])
    start = time.perf_counter()
    tally = run(scenario, rng, reps, replay_check)
    return group, index, scenario, tally, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=500, help="replications per healthy scenario")
    parser.add_argument("--harm-reps", type=int, default=300, help="replications per harmful scenario")
    parser.add_argument("--full", action="store_true", help="2,000 healthy and 1,000 harmful replications")
    parser.add_argument("--replay-check", type=int, default=5, help="replications per scenario called every minute")
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--heavy", action="store_true", help="add the slow scenarios (dev-traffic A/B, ...)")
    parser.add_argument("--only", help="run only scenarios whose name contains this text")
    args = parser.parse_args()
    reps, harm_reps = (2000, 1000) if args.full else (args.reps, args.harm_reps)
    plans()
    information_limits()
    healthy, harmful = scenarios(args.heavy)
    groups = {
        "healthy candidates (goal: harm ROLLBACK <= 0.05; A/B and shadow PROMOTE >= 0.8)": (healthy, reps),
        "harmful candidates (goal: ROLLBACK >= 0.9 within the bake; PROMOTE <= 0.05)": (harmful, harm_reps),
    }
    jobs = [
        (title, index, scenario, count, args.seed, args.replay_check)
        for title, (group, count) in groups.items()
        for index, scenario in enumerate(group)
        if not args.only or args.only in scenario.name
    ]
    with multiprocessing.Pool(args.jobs) as pool:
        results = pool.map(_job, jobs, chunksize=1)
    for title, (_, count) in groups.items():
        header(title, count)
        for group, _, scenario, tally, seconds in results:
            if group == title:
                report(scenario, tally, seconds)


if __name__ == "__main__":
    main()
