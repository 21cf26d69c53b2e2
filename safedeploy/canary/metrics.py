"""The canary-metric catalog: every CloudWatch metric the canary reads and every metric its verdict guards, once.

Two layers. `CloudWatchMetric` is what CloudWatch holds (namespace, name, unit, the dimensions it is published
with) and `Reading` one statistic of it per fleet-minute. `CanaryMetric` is a quantity the verdict judges: the
readings it is built from, its test kind and harm direction, the `endpoint.canary` settings that give its margin,
detectable effect and tolerance, whether the bake planner sizes the bake for it, the auto-rollback alarm that
watches it endpoint-wide, and the dashboard panel that shows it per fleet. The metric reader, the policy, the bake
planner, `safedeploy plan`'s traffic profile, doctor, the dashboard and the rollback alarms all read this module,
so a new metric is one entry here plus its settings (docs/architecture.md, "A new canary metric").

No boto3 here: synth imports it for the alarms and the dashboard.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from safedeploy.canary.metric_names import (
    ENDPOINT_DIMENSION,
    FEEDBACK_CORRECT_NAME,
    FEEDBACK_RECEIVED_NAME,
    GATEWAY_NAMESPACE,
    SAGEMAKER_NAMESPACE,
    VARIANT_DIMENSION,
)
from safedeploy.guardrails.canary_settings import AlarmThresholds, CanarySettings
from safedeploy.stats.bake_plan import HarmSpec, log_median_harm_spec, log_median_spread, rate_harm_spec, rate_spread

MICROSECONDS_PER_MS = 1000.0


@dataclass(frozen=True)
class CloudWatchMetric:
    """One CloudWatch metric. `per_fleet`: SageMaker also publishes it per `EndpointConfigName`, which is how the
    analysis tells a blue/green update's two fleets apart (doctor checks the series exist); the gateway publishes
    per `EndpointName` and `VariantName` only (`dimensions`)."""

    namespace: str
    name: str
    unit: str
    per_fleet: bool = False
    dimensions: tuple[str, ...] | None = None  # the fleet dimensions it has; None: all of them

    def search(self, dimensions: tuple[str, ...], endpoint_name: str) -> str:
        """A dashboard SEARCH expression for this metric's series of one endpoint under `dimensions`."""
        schema = ",".join((self.namespace, *dimensions))
        return f'{{{schema}}} {ENDPOINT_DIMENSION}="{endpoint_name}" MetricName="{self.name}"'


# SageMaker's endpoint invocation metrics (docs/aws-behaviours.md): ModelLatency is in microseconds, and
# Invocation5XXErrors is 1 per 5xx response and 0 otherwise, so its Average is the error rate.
INVOCATIONS = CloudWatchMetric(SAGEMAKER_NAMESPACE, "Invocations", "Count", per_fleet=True)
INVOCATION_4XX_ERRORS = CloudWatchMetric(SAGEMAKER_NAMESPACE, "Invocation4XXErrors", "Count", per_fleet=True)
INVOCATION_5XX_ERRORS = CloudWatchMetric(SAGEMAKER_NAMESPACE, "Invocation5XXErrors", "Count", per_fleet=True)
MODEL_LATENCY = CloudWatchMetric(SAGEMAKER_NAMESPACE, "ModelLatency", "Microseconds", per_fleet=True)
# The gateway's outcome feedback (serving/gateway/metrics.py publishes them under `metric_names`' names).
FEEDBACK_RECEIVED = CloudWatchMetric(
    GATEWAY_NAMESPACE, FEEDBACK_RECEIVED_NAME, "Count", dimensions=(ENDPOINT_DIMENSION, VARIANT_DIMENSION)
)
FEEDBACK_CORRECT = CloudWatchMetric(
    GATEWAY_NAMESPACE, FEEDBACK_CORRECT_NAME, "Count", dimensions=(ENDPOINT_DIMENSION, VARIANT_DIMENSION)
)


@dataclass(frozen=True)
class Reading:
    """One statistic of one metric per fleet and minute; `key` names it in the reader's values."""

    key: str
    metric: CloudWatchMetric
    stat: str


REQUESTS = Reading("invocations", INVOCATIONS, "Sum")
ERRORS_5XX = Reading("errors", INVOCATION_5XX_ERRORS, "Sum")
LATENCY_AVERAGE = Reading("latency_mean", MODEL_LATENCY, "Average")
LATENCY_SAMPLES = Reading("latency_count", MODEL_LATENCY, "SampleCount")
LATENCY_P50 = Reading("latency_p50", MODEL_LATENCY, "p50")
FEEDBACK = Reading("feedback", FEEDBACK_RECEIVED, "Sum")
CORRECT = Reading("correct", FEEDBACK_CORRECT, "Sum")


@dataclass(frozen=True)
class Setting:
    """A deployment setting (`section.name`) in the engine's unit: the configured value times `times`, over `per`."""

    section: Literal["canary", "alarms"]
    name: str
    per: float = 1.0
    times: float = 1.0

    @property
    def key(self) -> str:
        return f"{self.section}.{self.name}"

    def of(self, section: CanarySettings | AlarmThresholds) -> float:
        """Its value in `section` (the settings' `canary` or `alarms`)."""
        value: float = getattr(section, self.name)
        return value if (self.times, self.per) == (1.0, 1.0) else value * self.times / self.per


@dataclass(frozen=True)
class RollbackAlarm:
    """An endpoint-wide alarm SageMaker watches during a deployment (over both fleets: they share the variant)."""

    construct_id: str
    name: str  # after `<project>-<env>-`
    metric: CloudWatchMetric
    stat: str
    threshold: Setting
    description: str


@dataclass(frozen=True)
class Panel:
    """A dashboard graph: (metric, statistic) on the left and right axes; `title` follows the widget's prefix."""

    title: str
    left: tuple[tuple[CloudWatchMetric, str], ...]
    right: tuple[tuple[CloudWatchMetric, str], ...] = ()


@dataclass(frozen=True)
class Planning:
    """How the bake planner sizes a bake for a metric, at a candidate share of traffic: its harm test, and the
    spread and margin of its non-inferiority test (the A/B and shadow promotion horizon)."""

    harm: Callable[[CanarySettings, float], HarmSpec]
    non_inferiority: Callable[[CanarySettings, float], tuple[float, float]]


@dataclass(frozen=True)
class CanaryMetric:
    """A quantity the verdict guards (the key of its observations and policy).

    `reads`: count kinds (`proportion`) read (trials, events), `mean` reads (average, samples) and `median` reads
    (samples, p50). `feedback`: published only in minutes that had some (the gateway's), so it is judged over all
    minutes and only once both fleets have some. `bake_judged`: judged over the bake's minutes with a late window
    (harm during a blue/green bake); otherwise on its sample horizon alone. `supersedes`: the metric it replaces
    when both are read (p50 over the mean). `planning`: how the bake is sized for it (a metric without is not).
    """

    name: str
    kind: Literal["proportion", "mean", "median"]
    harm: Literal["increase", "decrease"]
    reads: tuple[Reading, Reading]
    margin: Setting
    relative: bool = False
    tolerance: Setting | None = None
    mde: Setting | None = None
    feedback: bool = False
    bake_judged: bool = True
    supersedes: str | None = None
    planning: Planning | None = None
    alarm: RollbackAlarm | None = None
    fleet_panel: Panel | None = None

    def unit_scale(self) -> float:
        """What the observed values are divided by: microseconds become milliseconds."""
        return MICROSECONDS_PER_MS if self.reads[0].metric.unit == "Microseconds" else 1.0


def _error_rate_harm(canary: CanarySettings, share: float) -> HarmSpec:
    return rate_harm_spec(ERROR_RATE.name, share, canary.baseline_error_rate, ERROR_RATE_MDE.of(canary))


def _error_rate_non_inferiority(canary: CanarySettings, share: float) -> tuple[float, float]:
    return rate_spread(share, canary.baseline_error_rate), ERROR_RATE.margin.of(canary)


def _latency_harm(canary: CanarySettings, share: float) -> HarmSpec:
    increase, tolerance = LATENCY_MDE.of(canary), LATENCY_TOLERANCE.of(canary)
    return log_median_harm_spec(LATENCY_MEDIAN.name, share, canary.latency_log_sigma, increase, tolerance)


def _latency_non_inferiority(canary: CanarySettings, share: float) -> tuple[float, float]:
    return log_median_spread(share, canary.latency_log_sigma), math.log1p(LATENCY_MARGIN.of(canary))


# SageMaker's own rollback-alarm example watches the Average of Invocation5XXErrors: no metric math needed.
ERROR_RATE_5XX_ALARM = RollbackAlarm(
    "ErrorRateAlarm",
    "endpoint-5xx-rate",
    INVOCATION_5XX_ERRORS,
    "Average",
    Setting("alarms", "error_rate_5xx_percent", per=100),
    f"5xx error rate of the endpoint (Average of {INVOCATION_5XX_ERRORS.name}, a fraction); SageMaker rolls a "
    "deployment back when it fires",
)
# SageMaker documents ModelLatency's statistics as Average, Sum, Min, Max and Sample Count (no percentiles), so the
# alarm watches the minute's Average, in microseconds.
MODEL_LATENCY_ALARM = RollbackAlarm(
    "LatencyAlarm",
    "endpoint-model-latency",
    MODEL_LATENCY,
    "Average",
    Setting("alarms", "model_latency_ms", times=MICROSECONDS_PER_MS),
    "Average model latency of the endpoint per minute (microseconds)",
)
ERROR_RATE_MDE = Setting("canary", "error_rate_mde_ratio")
LATENCY_MARGIN = Setting("canary", "latency_margin_percent", per=100)
LATENCY_MDE = Setting("canary", "latency_mde_percent", per=100)
LATENCY_TOLERANCE = Setting("canary", "latency_tolerance_percent", per=100)

ERROR_RATE = CanaryMetric(
    "error_rate",
    "proportion",
    "increase",
    (REQUESTS, ERRORS_5XX),
    margin=Setting("canary", "error_rate_margin"),
    mde=ERROR_RATE_MDE,
    planning=Planning(_error_rate_harm, _error_rate_non_inferiority),
    alarm=ERROR_RATE_5XX_ALARM,
    fleet_panel=Panel("invocations and 5xx errors", ((INVOCATIONS, "Sum"),), ((INVOCATION_5XX_ERRORS, "Sum"),)),
)
LATENCY_MEAN = CanaryMetric(
    "latency_ms",
    "mean",
    "increase",
    (LATENCY_AVERAGE, LATENCY_SAMPLES),
    margin=LATENCY_MARGIN,
    relative=True,
    tolerance=LATENCY_TOLERANCE,
    mde=LATENCY_MDE,
    alarm=MODEL_LATENCY_ALARM,
    fleet_panel=Panel("average model latency (microseconds)", ((MODEL_LATENCY, "Average"),)),
)
# The same test on the per-minute median, guarded instead of the mean where CloudWatch returns p50 (metric_reader).
LATENCY_MEDIAN = dataclasses.replace(
    LATENCY_MEAN,
    name="latency_p50_ms",
    kind="median",
    reads=(LATENCY_SAMPLES, LATENCY_P50),
    supersedes=LATENCY_MEAN.name,
    planning=Planning(_latency_harm, _latency_non_inferiority),
    alarm=None,
    fleet_panel=None,
)
ACCURACY = CanaryMetric(
    "accuracy",
    "proportion",
    "decrease",
    (FEEDBACK, CORRECT),
    margin=Setting("canary", "accuracy_margin"),
    feedback=True,
    bake_judged=False,
)

CANARY_METRICS = (ERROR_RATE, LATENCY_MEAN, LATENCY_MEDIAN, ACCURACY)
# The metrics the bake is planned for: each harm test runs at alpha / len(PLANNED) (Holm's first step).
PLANNED_METRICS = tuple(metric for metric in CANARY_METRICS if metric.planning is not None)
PLANNED = tuple(metric.planning for metric in PLANNED_METRICS if metric.planning is not None)
ROLLBACK_ALARMS = tuple(metric.alarm for metric in CANARY_METRICS if metric.alarm is not None)
# Every reading, in the order of the GetMetricData queries.
READINGS = tuple(dict.fromkeys(reading for metric in CANARY_METRICS for reading in metric.reads))
# The series doctor expects per fleet (EndpointConfigName) after a blue/green deployment.
FLEET_SERIES = tuple(dict.fromkeys(reading.metric for reading in READINGS if reading.metric.per_fleet))

# The endpoint-wide dashboard panels per variant (the fleets' panels are the metrics' own `fleet_panel`).
ENDPOINT_PANELS = (
    Panel(
        "Endpoint invocations and errors per variant",
        ((INVOCATIONS, "Sum"),),
        ((INVOCATION_4XX_ERRORS, "Sum"), (INVOCATION_5XX_ERRORS, "Sum")),
    ),
    # SageMaker documents ModelLatency's statistics as Average, Sum, Min, Max and Sample Count (no percentiles).
    Panel(
        "Model latency per variant (microseconds): average and maximum",
        ((MODEL_LATENCY, "Average"), (MODEL_LATENCY, "Maximum")),
    ),
)
