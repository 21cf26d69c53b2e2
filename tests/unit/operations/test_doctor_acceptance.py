"""`safedeploy doctor` shows the last acceptance run's finding per undocumented behaviour, reading one SSM parameter."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from safedeploy.operations import doctor
from safedeploy.operations.acceptance_results import (
    OBSERVED_LIMIT,
    Behaviour,
    Finding,
    Outcome,
    Results,
    read_results,
    results_parameter,
    write_results,
)
from safedeploy.operations.doctor import DoctorScope, Status
from testbed.aws import SESSION, in_process_aws
from testbed.deploy_world import ENV, PROJECT


@pytest.fixture
def scope(monkeypatch: pytest.MonkeyPatch) -> Iterator[DoctorScope]:
    with in_process_aws(monkeypatch):
        yield DoctorScope(client=SESSION.client, project=PROJECT, env=ENV, now=datetime.now(UTC))


def shown(scope: DoctorScope) -> dict[str, tuple[Status, str]]:
    results = doctor.run_checks(scope, str, doctor.ACCEPTANCE_CHECKS)
    return {result.name: (result.status, result.detail) for result in results}


def test_without_a_run_every_behaviour_is_skipped_with_how_to_run_the_suite(scope: DoctorScope) -> None:
    found = shown(scope)
    assert set(found) == {f"acceptance-{behaviour.value}" for behaviour in Behaviour}
    assert {status for status, _ in found.values()} == {Status.SKIP}
    assert all("make acceptance" in detail for _, detail in found.values())


def test_each_behaviour_shows_its_own_finding_and_a_failed_one_fails_doctor(scope: DoctorScope) -> None:
    findings = (
        Finding(Behaviour.FLEET_DIMENSION, Outcome.CONFIRMED, "all three per fleet"),
        Finding(Behaviour.MODEL_LATENCY_PERCENTILES, Outcome.FALLBACK, "no p50: mean latency judged"),
        Finding(Behaviour.ROLLED_BACK_MARK, Outcome.FAILED, "no mark after the rollback"),
        Finding(Behaviour.OBJECT_LOCK_WRITES, Outcome.UNSETTLED, "nothing written"),
    )
    results = Results(env="scratch", finished_at="2026-12-07T02:00:00Z", region="ap-northeast-2", findings=findings)
    write_results(SESSION.client("ssm"), PROJECT, results)
    found = shown(scope)
    assert found["acceptance-fleet-dimension"][0] is Status.PASS
    assert found["acceptance-model-latency-percentiles"] == (
        Status.PASS,
        "fallback: no p50: mean latency judged (acceptance scratch 2026-12-07T02:00:00Z)",
    )
    assert found["acceptance-rolled-back-mark"][0] is Status.FAIL
    assert found["acceptance-object-lock-writes"][0] is Status.SKIP
    assert found["acceptance-final-bake-length"] == (
        Status.SKIP,
        "not observed by the last run (acceptance scratch 2026-12-07T02:00:00Z)",
    )


def test_doctor_only_reads(scope: DoctorScope) -> None:
    calls: list[str] = []

    def client(service: str) -> object:
        real = SESSION.client(service)
        real.meta.events.register("before-call.*.*", lambda model, **_: calls.append(model.name))
        return real

    reading = DoctorScope(client=client, project=PROJECT, env=ENV, now=scope.now)
    doctor.run_checks(reading, str, doctor.ACCEPTANCE_CHECKS)
    assert set(calls) == {"GetParameter"}


def test_a_malformed_record_fails_each_check_with_one_line(scope: DoctorScope) -> None:
    SESSION.client("ssm").put_parameter(Name=results_parameter(PROJECT), Value="{}", Type="String")
    found = shown(scope)
    assert {status for status, _ in found.values()} == {Status.FAIL}
    assert "malformed acceptance results record" in found["acceptance-fleet-dimension"][1]


def test_the_record_fits_a_standard_parameter_and_round_trips(scope: DoctorScope) -> None:
    long = "x" * 2000
    findings = tuple(Finding(behaviour, Outcome.CONFIRMED, long) for behaviour in Behaviour)
    results = Results(env="scratch", finished_at="2026-12-07T02:00:00Z", region="ap-northeast-2", findings=findings)
    write_results(SESSION.client("ssm"), PROJECT, results)
    read = read_results(SESSION.client("ssm"), PROJECT)
    assert read is not None and len(read.findings) == len(Behaviour)
    assert all(finding.observed == long[:OBSERVED_LIMIT] for finding in read.findings)
