"""What a rehearsal leaves behind: the checks that say whether it went as it must, the decision timeline (JSON)
and, per candidate, the canary report `safedeploy report` draws from the decision records (PNG and HTML)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rehearsal.scenario import Rehearsal, ReleaseOutcome
from rehearsal.trust_chain import AttackOutcome
from safedeploy.canary.report import Timeline, write_report
from safedeploy.guardrails import resource_tags
from safedeploy.guardrails.rolled_back import RolledBackMarks
from safedeploy.s3_layout import APPROVALS


def final_checks(rehearsal: Rehearsal, live: ReleaseOutcome, candidates: list[ReleaseOutcome]) -> dict[str, bool]:
    """The promised end state, read back from AWS (moto), not from what the rehearsal believes it did."""
    sm, s3 = rehearsal.server.client("sagemaker"), rehearsal.server.client("s3")
    naming = rehearsal.world.naming
    endpoint = sm.describe_endpoint(EndpointName=naming.endpoint)
    serving = resource_tags.read_tags(sm, endpoint["EndpointArn"]).get(resource_tags.PACKAGE_ARN)
    by_name = {outcome.name: outcome for outcome in candidates}
    good, bad = by_name["good"], by_name["bad"]
    packages = sm.list_model_packages(ModelPackageGroupName=naming.model_package_group)["ModelPackageSummaryList"]
    reports = [
        sm.describe_model_package(ModelPackageName=p["ModelPackageArn"])["ModelMetrics"]["ModelQuality"]["Statistics"]
        for p in packages
    ]
    records = [minute["record_uri"] for outcome in candidates for minute in outcome.minutes if minute["record_uri"]]
    minutes = [minute for outcome in candidates for minute in outcome.minutes]
    statuses = {int(code) for minute in minutes for code in minute["gateway_statuses"]}
    strategy = rehearsal.world.config.endpoint.strategy
    # A guarded update's deploy build waits and exits 4 on SageMaker's rollback; an experiment's only starts it.
    rollback_exit = 4 if strategy.guardrails else 0
    return {
        "first model live": live.result == "live",
        "good candidate Approved": _status(sm, good.package_arn) == "Approved",
        "good candidate serves 100 %": serving == good.package_arn
        and [v["CurrentWeight"] for v in endpoint["ProductionVariants"]] == [1.0],
        "bad candidate rolled back": bad.result == "rolled back" and bad.deploy_exit_code == rollback_exit,
        # the write-once mark under rolled-back/ (a package version takes no tags), which deploy and Promote read
        "bad candidate marked rolled back": RolledBackMarks(s3, rehearsal.world.artifacts_bucket).mark_of(
            bad.package_arn
        )
        is not None,
        "live model unchanged after the rollback": endpoint["EndpointStatus"] == "InService"
        and serving == good.package_arn,
        "every model package kept": {o.package_arn for o in (live, *candidates)}
        <= {p["ModelPackageArn"] for p in packages},
        "every evaluation report kept": all(_exists(s3, report["S3Uri"]) for report in reports),
        # An update with nothing beside it (all-at-once) has no baseline to compare: the analysis writes no record.
        "every decision record kept": (bool(records) or strategy.comparison is None)
        and all(_exists(s3, uri) for uri in records),
        # The traffic really went through the gateway: answered (200), or the model's own error (502), nothing else
        # (a key it refuses, a timeout, a crash).
        "the gateway answered every request": bool(statuses) and set(statuses) <= {200, 502} and 200 in statuses,
    }


def trust_checks(
    rehearsal: Rehearsal, good: ReleaseOutcome, released: list[ReleaseOutcome], attacks: list[AttackOutcome]
) -> dict[str, bool]:
    """Every environment of the chain serves the very package dev approved, each from its own bucket; every attack
    was refused and changed nothing."""
    sm, s3 = rehearsal.server.client("sagemaker"), rehearsal.server.client("s3")
    dev, later = rehearsal.world, rehearsal.chain[1:]
    served = {world.naming.env: _serving(sm, world.naming.endpoint) for world in rehearsal.chain}
    records = s3.list_objects_v2(Bucket=dev.artifacts_bucket, Prefix=f"{APPROVALS}/").get("Contents", [])
    versions = [  # the model.tar.gz versions (each trained model has its drift baseline beside it)
        version
        for version in s3.list_object_versions(Bucket=dev.artifacts_bucket, Prefix="models/").get("Versions", [])
        if version["Key"].endswith("/model.tar.gz")
    ]
    names = " and ".join(world.naming.env for world in later)
    return {
        f"{names} deployed the package {dev.naming.env} approved": [outcome.environment for outcome in released]
        == [world.naming.env for world in later]
        and all(outcome.result == "live" for outcome in released)
        and all(served[world.naming.env] == good.package_arn for world in later),
        f"{names}: each serves its own verified copy": all(
            _model_url(sm, world.naming.endpoint).startswith(f"s3://{world.artifacts_bucket}/models/promoted/")
            for world in later
        ),
        "every attack refused with one line": all(attack.refused and "\n" not in attack.line for attack in attacks),
        "nothing deployed by an attack": served == dict.fromkeys(served, good.package_arn),
        "every approval record kept": len(records) == 1 + len(CANDIDATES_APPROVED) + 1,
        "every model artifact version kept": len(versions) == 1 + len(CANDIDATES_APPROVED) + 1,
    }


# The model releases whose approval was recorded: the first model and both candidates (each approved by a person).
CANDIDATES_APPROVED = ("good", "bad")


def _model_url(sm: Any, endpoint_name: str) -> str:
    config = sm.describe_endpoint(EndpointName=endpoint_name)["EndpointConfigName"]
    model = sm.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"][0]["ModelName"]
    return str(sm.describe_model(ModelName=model)["PrimaryContainer"]["ModelDataUrl"])


def _serving(sm: Any, endpoint_name: str) -> str | None:
    endpoint = sm.describe_endpoint(EndpointName=endpoint_name)
    return resource_tags.read_tags(sm, endpoint["EndpointArn"]).get(resource_tags.PACKAGE_ARN)


def _status(sm: Any, package_arn: str) -> str:
    return sm.describe_model_package(ModelPackageName=package_arn)["ModelApprovalStatus"]


def _exists(s3: Any, uri: str) -> bool:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return s3.list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount", 0) > 0


def write_timeline(
    path: Path, outcomes: list[ReleaseOutcome], checks: dict[str, bool], attacks: list[AttackOutcome] = ()
) -> None:
    """Every release in dev and prod (each names its environment), the attacks and their refusals, the checks."""
    document = {
        "releases": [asdict(o) for o in outcomes],
        "environments": sorted({o.environment for o in outcomes}),
        "attacks": [asdict(a) for a in attacks],
        "checks": checks,
    }
    path.write_text(json.dumps(document, indent=2, default=str))


def canary_reports(rehearsal: Rehearsal, output: Path, candidates: list[ReleaseOutcome]) -> list[Path]:
    """`safedeploy report`'s picture and page of each candidate's bake, from the decision records it left in S3 (read
    by their URIs: `load_timeline` would leave out records the simulated minutes dated after the real clock), with
    the outcome the rehearsal saw (SageMaker promotes a blue/green candidate at the end of its bake)."""
    s3 = rehearsal.server.client("s3")
    written: list[Path] = []
    for outcome in candidates:
        records = [_record(s3, minute["record_uri"]) for minute in outcome.minutes if minute["record_uri"]]
        if records:
            timeline = Timeline.from_records(records)
            timeline.promoted = outcome.result == "promoted"
            written += write_report(timeline, output, stem=f"canary-{outcome.name}")
    return written


def _record(s3: Any, uri: str) -> dict[str, Any]:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
