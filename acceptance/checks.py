"""One assertion per undocumented behaviour (docs/aws-behaviours.md, "Behaviour register"), keyed by its id.

Each reads what a real run left (`RunEvidence`) through the platform's own functions where it has them (the fleet
series doctor looks for, the rolled-back mark, the deploy's budget, the endpoint snapshot parser), and says which way
AWS behaved: as the design assumes (`confirmed`), the other way with the fallback holding (`fallback`), not seen in
this run (`unsettled`), or neither (`failed`). The same functions run offline against moto and stubbed timelines.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from acceptance.evidence import RunEvidence, TimelineEntry
from safedeploy.canary.fleets import fleet_by_config
from safedeploy.canary.metric_names import ENDPOINT_DIMENSION, SAGEMAKER_NAMESPACE
from safedeploy.canary.metrics import MODEL_LATENCY
from safedeploy.cli.aws_errors import one_line
from safedeploy.guardrails.deploy_target import DeployTarget
from safedeploy.guardrails.endpoint_status import IN_SERVICE, EndpointSnapshot
from safedeploy.operations.acceptance_results import Behaviour, Finding, Outcome
from safedeploy.operations.doctor import FLEET_METRICS, missing_fleet_series

Check = Callable[[RunEvidence], Finding]
# A bake's end is seen at the first poll that no longer shows it, so each length is known to one poll (the suite
# polls every 15 s) plus SageMaker's own steps between bakes.
BAKE_TOLERANCE = timedelta(seconds=30)
# A stopped analysis trips FILL(verdict, 1) with missing data breaching after R - 3 + 2 minutes for an evaluation
# range of R points (4 with the page's R = 5; docs/aws-behaviours.md), plus up to a minute before its last verdict
# would have been due and a minute for CloudWatch's evaluation.
SILENT_VERDICT_MINUTES = 6
# At most this many object versions written during the run are asked for their retention.
RETENTION_SAMPLE = 20


def check_fleet_dimension(run: RunEvidence) -> Finding:
    cloudwatch = run.client("cloudwatch")
    fleets = (run.healthy.blue_config, run.healthy.green_config)
    missing = {config: missing_fleet_series(cloudwatch, run.endpoint_name, config) for config in fleets}
    gaps = {config: metrics for config, metrics in missing.items() if metrics}
    if not gaps:
        return Finding(
            Behaviour.FLEET_DIMENSION,
            Outcome.CONFIRMED,
            f"{', '.join(FLEET_METRICS)} per EndpointConfigName on {', '.join(fleets)}",
        )
    listed = "; ".join(f"{config}: no {', '.join(metrics)}" for config, metrics in gaps.items())
    silent = [metric for metric in sorted({m for ms in gaps.values() for m in ms}) if not _emitted(run, metric)]
    if silent:
        return Finding(
            Behaviour.FLEET_DIMENSION,
            Outcome.UNSETTLED,
            f"{listed}; {', '.join(silent)} has no series for the endpoint at all in the run (not emitted, e.g. no "
            "5xx and no zeros, or ListMetrics lags), so the run cannot tell the dimension apart",
        )
    if MODEL_LATENCY.name in {metric for metrics in gaps.values() for metric in metrics}:
        return Finding(
            Behaviour.FLEET_DIMENSION,
            Outcome.UNSETTLED,
            f"{listed} (even the documented ModelLatency series is absent: no traffic reached it, or ListMetrics lags)",
        )
    return Finding(
        Behaviour.FLEET_DIMENSION,
        Outcome.FALLBACK,
        f"{listed}: without Invocations a fleet reads as silent (the sample-ratio check rolls back); without the "
        "others the endpoint-wide 5xx and latency alarms still guard it",
    )


def _emitted(run: RunEvidence, metric: str) -> bool:
    """Whether the endpoint has any series of `metric`, whatever its other dimensions."""
    dimensions = [{"Name": ENDPOINT_DIMENSION, "Value": run.endpoint_name}]
    listed = run.client("cloudwatch").list_metrics(
        Namespace=SAGEMAKER_NAMESPACE, MetricName=metric, Dimensions=dimensions
    )
    return bool(listed.get("Metrics"))


def check_latency_percentiles(run: RunEvidence) -> Finding:
    release = run.healthy
    fleet = fleet_by_config(run.endpoint_name, release.green_config)
    dimensions = fleet.cloudwatch_dimensions()
    metric = {"Namespace": MODEL_LATENCY.namespace, "MetricName": MODEL_LATENCY.name, "Dimensions": dimensions}
    stats = ("Average", "p50", "p99")
    queries = [
        {"Id": f"q{index}", "MetricStat": {"Metric": metric, "Period": 60, "Stat": stat}, "ReturnData": True}
        for index, stat in enumerate(stats)
    ]
    result = run.client("cloudwatch").get_metric_data(
        MetricDataQueries=queries, StartTime=release.started_at, EndTime=release.ended_at + timedelta(minutes=5)
    )
    counts = {stat: 0 for stat in stats}
    for series in result["MetricDataResults"]:
        counts[stats[int(series["Id"][1:])]] += len(series.get("Values", []))
    observed = ", ".join(f"{stat} {count} minutes" for stat, count in counts.items())
    if not counts["Average"]:
        return Finding(Behaviour.MODEL_LATENCY_PERCENTILES, Outcome.UNSETTLED, f"no ModelLatency data ({observed})")
    if counts["p50"] and counts["p99"]:
        return Finding(Behaviour.MODEL_LATENCY_PERCENTILES, Outcome.CONFIRMED, f"{release.green_config}: {observed}")
    return Finding(
        Behaviour.MODEL_LATENCY_PERCENTILES,
        Outcome.FALLBACK,
        f"{release.green_config}: {observed}: the analysis judges mean latency; alarms use documented statistics",
    )


@dataclass(frozen=True)
class Bake:
    """One baking period as the polls saw it: from its StartTime until the first poll that no longer showed it."""

    started_at: datetime
    ended_by: datetime

    @property
    def seconds(self) -> float:
        return (self.ended_by - self.started_at).total_seconds()


def bakes(timeline: Sequence[TimelineEntry]) -> list[Bake]:
    """Every distinct Baking status (by its StartTime) of either fleet during the update, in order."""
    last_seen: dict[datetime, int] = {}
    for index, entry in enumerate(timeline):
        snapshot = EndpointSnapshot.from_description(dict(entry.description))
        for variant in (*snapshot.variants, *snapshot.pending_variants):
            if variant.baking_since is not None:
                last_seen[variant.baking_since] = index
    found = []
    for started_at, index in sorted(last_seen.items()):
        ended_by = timeline[min(index + 1, len(timeline) - 1)].at
        found.append(Bake(started_at, ended_by))
    return found


def check_final_bake(run: RunEvidence) -> Finding:
    found = bakes(run.healthy.timeline)
    budget, explanation = run.settings.total_waiting_seconds()
    if not found:
        return Finding(
            Behaviour.FINAL_BAKE_LENGTH,
            Outcome.UNSETTLED,
            f"no Baking status in {len(run.healthy.timeline)} polls of {run.healthy.green_config}",
        )
    lengths = " + ".join(f"{bake.seconds:.0f}" for bake in found)
    baked = sum(bake.seconds for bake in found)
    observed = (
        f"{len(found)} bakes ({lengths} s; wait_interval_seconds {run.settings.wait_interval_seconds}), final "
        f"{found[-1].seconds:.0f} s; the deploy budget allows {budget} s ({explanation})"
    )
    within = baked <= budget + BAKE_TOLERANCE.total_seconds() * len(found)
    return Finding(Behaviour.FINAL_BAKE_LENGTH, Outcome.CONFIRMED if within else Outcome.FAILED, observed)


def check_rolled_back_mark(run: RunEvidence) -> Finding:
    release = run.harmful
    if not release.rolled_back:
        return Finding(
            Behaviour.ROLLED_BACK_MARK,
            Outcome.UNSETTLED,
            f"the forced rollback of {release.green_config} did not happen ({release.error or 'it went live'})",
        )
    # Where the deploy itself reads and writes the marks.
    marks = DeployTarget.load(run.client("ssm"), run.project, run.env, s3=run.client("s3")).require_marks()
    mark = marks.mark_of(release.package_arn)
    if not mark:
        return Finding(
            Behaviour.ROLLED_BACK_MARK,
            Outcome.FAILED,
            f"SageMaker rolled {release.green_config} back but the package carries no mark (deploy: {release.error})",
        )
    marks.clear(mark, at=datetime.now(UTC).isoformat(timespec="seconds"), endpoint_name=run.endpoint_name)
    left = marks.mark_of(release.package_arn)
    if left:
        return Finding(
            Behaviour.ROLLED_BACK_MARK, Outcome.FAILED, f"written and read ({mark.describe()}) but not cleared: {left}"
        )
    return Finding(
        Behaviour.ROLLED_BACK_MARK, Outcome.CONFIRMED, f"written by the deploy, read back, cleared: {mark.describe()}"
    )


_NOT_FOUND = frozenset({"404", "NoSuchKey", "NotFound"})
_DENIED = frozenset({"403", "AccessDenied", "Forbidden"})


def _missing_key_answer(s3: Any, bucket: str, key: str) -> str:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        return "404" if code in _NOT_FOUND else "403" if code in _DENIED else code or "error"
    return "exists"


def check_missing_key(run: RunEvidence) -> Finding:
    if not run.role_probes:
        return Finding(Behaviour.MISSING_KEY_STATUS, Outcome.UNSETTLED, "no role of the environment could be assumed")
    answers = {probe.role: _missing_key_answer(probe.s3, probe.bucket, probe.key) for probe in run.role_probes}
    observed = ", ".join(f"{role} {answer}" for role, answer in sorted(answers.items()))
    if set(answers.values()) == {"404"}:
        return Finding(Behaviour.MISSING_KEY_STATUS, Outcome.CONFIRMED, observed)
    if set(answers.values()) <= {"404", "403"}:
        return Finding(
            Behaviour.MISSING_KEY_STATUS,
            Outcome.FALLBACK,
            f"{observed}: where 403, an absent record reads as a refusal (fails closed)",
        )
    return Finding(Behaviour.MISSING_KEY_STATUS, Outcome.FAILED, observed)


def _written_during(s3: Any, bucket: str, since: datetime) -> list[tuple[str, str]]:
    versions = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        versions += [
            (version["Key"], version["VersionId"])
            for version in page.get("Versions", [])
            if version["LastModified"] >= since
        ]
    return versions


def _pipeline_store(run: RunEvidence) -> str | None:
    if not run.pipeline_name:
        return None
    pipeline = run.client("codepipeline").get_pipeline(name=run.pipeline_name)["pipeline"]
    return pipeline.get("artifactStore", {}).get("location")


def check_object_lock(run: RunEvidence) -> Finding:
    bucket = run.locked_bucket
    if bucket is None:
        return Finding(Behaviour.OBJECT_LOCK_WRITES, Outcome.UNSETTLED, "this environment has no Object Lock bucket")
    s3 = run.client("s3")
    rule = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"].get("Rule", {})
    written = _written_during(s3, bucket, run.healthy.started_at)
    if not written:
        return Finding(Behaviour.OBJECT_LOCK_WRITES, Outcome.UNSETTLED, f"nothing was written to {bucket} in the run")
    sample = written[:RETENTION_SAMPLE]
    # HeadObject carries the version's retain-until date for a caller with s3:GetObjectRetention.
    unlocked = [
        key
        for key, version in sample
        if not s3.head_object(Bucket=bucket, Key=key, VersionId=version).get("ObjectLockRetainUntilDate")
    ]
    prefixes = sorted({key.split("/", 1)[0] for key, _ in written})
    store = _pipeline_store(run)
    shared = f"; the pipeline's artifact store is {'this bucket' if store == bucket else store}" if store else ""
    observed = (
        f"{len(written)} writes to {bucket} ({', '.join(prefixes)}), default retention "
        f"{rule.get('DefaultRetention', {})}; {len(sample) - len(unlocked)} of {len(sample)} sampled retained{shared}"
    )
    if unlocked:
        return Finding(Behaviour.OBJECT_LOCK_WRITES, Outcome.FAILED, f"{observed}; not retained: {', '.join(unlocked)}")
    if store == bucket:
        return Finding(
            Behaviour.OBJECT_LOCK_WRITES,
            Outcome.UNSETTLED,
            f"{observed}: CodePipeline's own uploads to it were not exercised by this run",
        )
    return Finding(Behaviour.OBJECT_LOCK_WRITES, Outcome.CONFIRMED, observed)


def _instance_count_after(run: RunEvidence) -> int | None:
    settled = [entry for entry in run.healthy.timeline if entry.description.get("EndpointStatus") == IN_SERVICE]
    if not settled:
        return None
    variants = EndpointSnapshot.from_description(dict(settled[-1].description)).variants
    return variants[0].current_instance_count if variants else None


def check_retained_count(run: RunEvidence) -> Finding:
    before, configured = run.healthy.instance_count_before, run.settings.instance_count
    after = _instance_count_after(run)
    if before is None or before == configured or after is None:
        return Finding(
            Behaviour.RETAIN_VARIANT_PROPERTIES,
            Outcome.UNSETTLED,
            f"before {before}, after {after}, configured {configured}: the fleet was not scaled away from its "
            "configured size before the release",
        )
    observed = f"{before} instances before the release (configured {configured}), {after} after"
    if after == before:
        return Finding(Behaviour.RETAIN_VARIANT_PROPERTIES, Outcome.CONFIRMED, f"{observed}: the count was retained")
    if after == configured:
        return Finding(
            Behaviour.RETAIN_VARIANT_PROPERTIES,
            Outcome.FALLBACK,
            f"{observed}: the new fleet came up at the configured count; autoscaling, registered again after the "
            "deploy, sizes it for the load",
        )
    return Finding(Behaviour.RETAIN_VARIANT_PROPERTIES, Outcome.FAILED, observed)


def check_weights_last_modified(run: RunEvidence) -> Finding:
    before, after = run.weights_modified
    if before is None or after is None:
        return Finding(Behaviour.WEIGHTS_LAST_MODIFIED, Outcome.UNSETTLED, "the weight step was not observed")
    observed = (
        f"LastModifiedTime {before.isoformat()} before UpdateEndpointWeightsAndCapacities, {after.isoformat()} after"
    )
    if after > before:
        return Finding(Behaviour.WEIGHTS_LAST_MODIFIED, Outcome.CONFIRMED, observed)
    return Finding(
        Behaviour.WEIGHTS_LAST_MODIFIED,
        Outcome.FALLBACK,
        f"{observed}: an A/B step's sample-ratio window starts at the experiment's start instead (only wider)",
    )


def check_verdict_missing_data(run: RunEvidence) -> Finding:
    silence = run.verdict_silence
    if silence is None:
        return Finding(Behaviour.VERDICT_MISSING_DATA, Outcome.UNSETTLED, "the canary analysis was not stopped")
    if silence.alarm_at is None:
        return Finding(
            Behaviour.VERDICT_MISSING_DATA,
            Outcome.FAILED,
            f"the CanaryVerdict alarm stayed out of ALARM for {silence.waited} after the analysis stopped: a "
            "deployment whose analysis stops would not roll back",
        )
    minutes = (silence.alarm_at - silence.silenced_at).total_seconds() / 60
    observed = f"ALARM {minutes:.1f} min after the analysis stopped (expected within {SILENT_VERDICT_MINUTES} min)"
    if minutes <= SILENT_VERDICT_MINUTES:
        return Finding(Behaviour.VERDICT_MISSING_DATA, Outcome.CONFIRMED, observed)
    return Finding(
        Behaviour.VERDICT_MISSING_DATA,
        Outcome.FALLBACK,
        f"{observed}: CloudWatch's evaluation range is longer than the page's example; it still fails closed, later",
    )


CHECKS: Mapping[Behaviour, Check] = {
    Behaviour.FLEET_DIMENSION: check_fleet_dimension,
    Behaviour.MODEL_LATENCY_PERCENTILES: check_latency_percentiles,
    Behaviour.FINAL_BAKE_LENGTH: check_final_bake,
    Behaviour.ROLLED_BACK_MARK: check_rolled_back_mark,
    Behaviour.MISSING_KEY_STATUS: check_missing_key,
    Behaviour.OBJECT_LOCK_WRITES: check_object_lock,
    Behaviour.RETAIN_VARIANT_PROPERTIES: check_retained_count,
    Behaviour.WEIGHTS_LAST_MODIFIED: check_weights_last_modified,
    Behaviour.VERDICT_MISSING_DATA: check_verdict_missing_data,
}


def run_checks(run: RunEvidence, checks: Mapping[Behaviour, Check] = CHECKS) -> list[Finding]:
    """Every check, even after one fails; an AWS error fails only its own behaviour, with one line."""
    findings = []
    for behaviour, check in checks.items():
        try:
            findings.append(check(run))
        except (BotoCoreError, ClientError) as error:
            findings.append(Finding(behaviour, Outcome.FAILED, one_line(error)))
    return findings
