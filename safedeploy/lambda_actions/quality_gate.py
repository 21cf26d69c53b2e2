"""The quality gate: a candidate model package must clear fixed minimums and must not regress against the live model.

Minimums alone would let a model that is worse than the one serving today through; a regression limit alone would
let a slow drift of small regressions through. The gate checks both and names every violation at once, so one run
tells the ML engineer everything that has to change.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ConfigDict, Field, model_validator

from safedeploy import clock
from safedeploy.drift.check import DriftPolicy
from safedeploy.drift.settings import DriftConfig
from safedeploy.drift.skew import SkewReport, skew_against_live_traffic
from safedeploy.errors import ConfigError
from safedeploy.lambda_actions.pipeline_job import ActionFailed, JobSuccess
from safedeploy.lambda_actions.registry_api import Registry
from safedeploy.section_fields import METRIC_BOUND, METRIC_NAME_PATTERN, is_threshold
from safedeploy.sections import Section, rule, validated

MINIMUM_PREFIX = "min_"
MINIMUM_KEY_PATTERN = MINIMUM_PREFIX + METRIC_NAME_PATTERN
MAX_REGRESSION = "max_regression"
THRESHOLDS_PARAMETER = "thresholds"
THRESHOLDS_ENV = "QUALITY_GATE_THRESHOLDS"
SKEW_PARAMETER = "skew"
# Where the live traffic's histograms are: the function's environment (the bucket is another stack's token).
SKEW_BUCKET_ENV, SKEW_HISTOGRAMS_ENV, SKEW_ENDPOINT_ENV = "ARTIFACTS_BUCKET", "DRIFT_BUCKET", "ENDPOINT_NAME"
# The output variable the approval message shows (`#{QualityGate.SKEW}`).
SKEW_VARIABLE = "SKEW"
# Absorbs float noise so that a drop of exactly the allowed amount (0.80 -> 0.79 with 0.01) passes.
_TOLERANCE = 1e-9


class QualityGateConfig(Section):
    """The `quality_gate` section of cdk.json: the largest drop allowed against the live model, and `min_<metric>`
    for an environment that asks more (or less) of a metric than the model's own minimum (`model.metrics`)."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)

    max_regression: float = Field(default=0.01, ge=0, le=1)

    @model_validator(mode="after")
    def _minimums_only(self) -> QualityGateConfig:
        for key, value in (self.model_extra or {}).items():
            if not re.fullmatch(MINIMUM_KEY_PATTERN, key):
                raise rule(f"unknown key {key!r}; allowed: max_regression, min_<metric> (a metric of model.metrics)")
            if not is_threshold(value):
                raise rule(f"{key}: {value!r} must be a number (-{METRIC_BOUND:g} to {METRIC_BOUND:g})")
        return self

    @property
    def minimums(self) -> dict[str, float]:
        """The environment's own minimums, by metric name."""
        return {key.removeprefix(MINIMUM_PREFIX): float(value) for key, value in (self.model_extra or {}).items()}

    def thresholds(self, model_minimums: Mapping[str, float]) -> dict[str, float]:
        """What the QualityGate Lambda checks: the model's minimums, this environment's where it sets its own."""
        minimums = {**model_minimums, **self.minimums}
        thresholds = {f"{MINIMUM_PREFIX}{name}": value for name, value in minimums.items()}
        return {**thresholds, MAX_REGRESSION: self.max_regression}


@dataclass(frozen=True)
class QualityPolicy:
    """`minimums`: metric name -> lowest acceptable value; `max_regression`: largest drop allowed vs the live model."""

    minimums: Mapping[str, float]
    max_regression: float

    def __post_init__(self) -> None:
        if not self.minimums:
            raise ConfigError("quality gate has no minimum thresholds; configure at least one min_<metric>")
        for name, value in {**self.minimums, MAX_REGRESSION: self.max_regression}.items():
            if not math.isfinite(value):
                raise ConfigError(f"quality gate threshold {name} must be a finite number, got {value}")
        if self.max_regression < 0:
            raise ConfigError(f"quality gate {MAX_REGRESSION} must be >= 0, got {self.max_regression}")

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> QualityPolicy:
        """Reads the `quality_gate` section of `cdk.json` with synth's model: a key or value synth refuses is refused
        here too; `max_regression` is never silently defaulted, and a minimum left out is not checked."""
        if not isinstance(settings, Mapping):
            raise ConfigError(f"quality gate thresholds must be a JSON object, got {type(settings).__name__}")
        if MAX_REGRESSION not in settings:
            raise ConfigError(f"quality gate setting {MAX_REGRESSION} is missing")
        gate = validated(QualityGateConfig, settings, "quality_gate")  # the keys and ranges synth allows
        return cls(minimums=gate.minimums, max_regression=gate.max_regression)


def resolve_policy(parameters: Mapping[str, Any], environ: Mapping[str, str]) -> QualityPolicy:
    """Thresholds from the action's UserParameters, else from the function's environment; never a silent default."""
    if THRESHOLDS_PARAMETER in parameters:
        return QualityPolicy.from_settings(parameters[THRESHOLDS_PARAMETER])
    raw = environ.get(THRESHOLDS_ENV, "")
    if not raw.strip():
        raise ConfigError(
            f"no quality gate thresholds: pass UserParameters.{THRESHOLDS_PARAMETER} or set {THRESHOLDS_ENV}"
        )
    try:
        settings = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ConfigError(f"{THRESHOLDS_ENV} is not valid JSON: {error.msg} at character {error.pos}") from None
    return QualityPolicy.from_settings(settings)


@dataclass(frozen=True)
class SkewSettings:
    """Where the baselines (`bucket`) and the live traffic's histograms are, and the `drift` section that says how
    the comparison is judged and whether a skew blocks."""

    bucket: str
    histograms_bucket: str
    endpoint_name: str
    drift: DriftConfig = field(default_factory=DriftConfig)

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any], environ: Mapping[str, str]) -> SkewSettings | None:
        """UserParameters.skew (`DriftConfig.skew_parameters()`) with the bucket and endpoint from `environ`;
        None when the action asks for no skew check."""
        raw = parameters.get(SKEW_PARAMETER)
        if raw is None:
            return None
        if not isinstance(raw, Mapping):
            raise ConfigError(f"UserParameters.{SKEW_PARAMETER} must be a JSON object")
        drift = DriftConfig.from_skew_parameters(raw, "drift")
        missing = [name for name in (SKEW_BUCKET_ENV, SKEW_HISTOGRAMS_ENV, SKEW_ENDPOINT_ENV) if not environ.get(name)]
        if missing:
            raise ConfigError(f"the skew check needs the function's {' and '.join(missing)}")
        return cls(environ[SKEW_BUCKET_ENV], environ[SKEW_HISTOGRAMS_ENV], environ[SKEW_ENDPOINT_ENV], drift)

    def policy(self) -> DriftPolicy:
        return DriftPolicy(alpha=self.drift.alpha, sensitivity=self.drift.sensitivity)


@dataclass(frozen=True)
class GateResult:
    package_arn: str
    candidate: Mapping[str, float]
    live_arn: str | None
    live: Mapping[str, float] | None
    violations: tuple[str, ...] = ()
    skew: SkewReport | None = None

    @property
    def passed(self) -> bool:
        return not self.violations

    def skew_summary(self) -> str:
        return self.skew.summary() if self.skew is not None else "not compared (no live baseline)"

    def report(self) -> str:
        """What the pipeline shows: the verdict, every violation, and both sets of metrics."""
        verdict = "passed" if self.passed else f"failed with {len(self.violations)} violation(s)"
        lines = [f"Quality gate {verdict} for {self.package_arn}"]
        lines += [f"- {violation}" for violation in self.violations]
        lines.append(f"candidate: {_format_metrics(self.candidate)}")
        if self.live_arn is None:
            lines.append("live model: none approved yet, regression not checked")
        else:
            lines.append(f"live model {self.live_arn}: {_format_metrics(self.live or {})}")
        lines += self.skew.lines() if self.skew is not None else [f"training-serving skew: {self.skew_summary()}"]
        return "\n".join(lines)


def evaluate(candidate: Mapping[str, float], live: Mapping[str, float] | None, policy: QualityPolicy) -> list[str]:
    """Every violation of `policy` by `candidate`, compared with `live` when there is a live model."""
    violations: list[str] = []
    for metric, minimum in sorted(policy.minimums.items()):
        value = candidate.get(metric)
        if value is None or not math.isfinite(value):
            violations.append(f"{metric} is missing from the candidate's metrics")
            continue
        if value < minimum - _TOLERANCE:
            violations.append(f"{metric} {value:.4f} is below the minimum {minimum:.4f}")
        baseline = (live or {}).get(metric)
        if baseline is not None and baseline - value > policy.max_regression + _TOLERANCE:
            violations.append(
                f"{metric} {value:.4f} is {baseline - value:.4f} below the live model's {baseline:.4f} "
                f"(at most {policy.max_regression:.4f} allowed)"
            )
    return violations


def check_candidate(
    sm: Any,
    s3: Any,
    registry: Registry,
    package_arn: str,
    policy: QualityPolicy,
    skew: SkewSettings | None = None,
    now: datetime | None = None,
) -> GateResult:
    """Compare the candidate with the latest Approved package of its own model package group, and its training
    distribution with the live traffic (binned against that package's baseline) when `skew` says where it is."""
    group = sm.describe_model_package(ModelPackageName=package_arn)["ModelPackageGroupName"]
    candidate = registry.package_metrics(sm, s3, package_arn)
    live_arn = registry.latest_package(sm, group, status="Approved")
    if live_arn == package_arn:  # a re-run after approval must not compare the package with itself
        live_arn = None
    live = registry.package_metrics(sm, s3, live_arn) if live_arn else None
    violations = evaluate(candidate, live, policy)
    report = None
    if skew is not None and live_arn is not None:
        report = skew_against_live_traffic(
            sm,
            s3,
            bucket=skew.bucket,
            histograms_bucket=skew.histograms_bucket,
            endpoint_name=skew.endpoint_name,
            candidate_arn=package_arn,
            live_arn=live_arn,
            now=now or clock.utc_now(),
            policy=skew.policy(),
        )
        if report is not None and report.skewed and skew.drift.skew_blocks_approval:
            violations.append(
                f"training-serving skew in {', '.join(report.skewed)} (Holm at {skew.drift.alpha}); cdk.json "
                "drift.skew_blocks_approval is true"
            )
    return GateResult(
        package_arn=package_arn,
        candidate=candidate,
        live_arn=live_arn,
        live=live,
        violations=tuple(violations),
        skew=report,
    )


def run_quality_gate(
    sm: Any, s3: Any, registry: Registry, package_arn: str, policy: QualityPolicy, skew: SkewSettings | None = None
) -> JobSuccess:
    """The pipeline action: the report on success, `ActionFailed` carrying the same report on any violation; the
    skew summary is exported for the approval message."""
    result = check_candidate(sm, s3, registry, package_arn, policy, skew)
    if not result.passed:
        raise ActionFailed(result.report())
    return JobSuccess(result.report(), {SKEW_VARIABLE: result.skew_summary()})


def _format_metrics(metrics: Mapping[str, float]) -> str:
    return ", ".join(f"{name}={value:.4f}" for name, value in sorted(metrics.items())) or "(none)"
