"""A rolled-back package is marked and is not deployed again without the operator's explicit override.

The mark is a write-once record under the artifacts bucket's `rolled-back/` prefix: SageMaker refuses tags on a
model package version (the SageMaker double refuses them as AWS does), and nothing here calls ListTags on one.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from safedeploy.cli import main
from safedeploy.guardrails.deploy import DeployAction, deploy_package
from safedeploy.guardrails.endpoint_status import EndpointWaiter
from safedeploy.guardrails.errors import DeploymentFailed, MarkNotCleared, PackageRolledBack
from safedeploy.guardrails.rollback import rollback_endpoint
from safedeploy.guardrails.rolled_back import MarkUnreadable, OverrideRefused, RolledBackMarks, package_prefix
from safedeploy.write_once import CLEARED_SUFFIX, OVERRIDE_SUFFIX, AlreadyWritten
from testbed.deploy_world import ENDPOINT, ENV, PROJECT, register_package
from testbed.moto_sagemaker import EndpointUpdates


def mark_record(marks: RolledBackMarks, package_arn: str) -> dict[str, str]:
    mark = marks.mark_of(package_arn)
    assert mark is not None and len(mark.keys) == 1
    return json.loads(marks.s3.get_object(Bucket=marks.bucket, Key=mark.keys[0])["Body"].read())


def test_sagemaker_takes_no_tags_on_a_package_version(sm: Any, two_releases: list[str]) -> None:
    """What AWS answers (aws-cdk#33699): the tag the mark used to be cannot be written."""
    with pytest.raises(ClientError, match="Tags are not supported in Model Package versions"):
        sm.add_tags(ResourceArn=two_releases[1], Tags=[{"Key": "safedeploy:rolled-back", "Value": "x"}])


def test_a_rollback_marks_the_package_it_rolled_away_from(
    sm: Any, marks: RolledBackMarks, two_releases: list[str], waiter: EndpointWaiter
) -> None:
    result = rollback_endpoint(sm, ENDPOINT, marks=marks, reason="bad model live", waiter=waiter)

    first, second = two_releases
    assert result.rolled_back_package == second
    record = mark_record(marks, second)
    assert (record["endpoint_name"], record["reason"], record["package_arn"]) == (ENDPOINT, "bad model live", second)
    assert marks.mark_of(first) is None
    assert "is marked rolled back (deploying it again needs --allow-rolled-back)" in result.summary()


def test_a_marked_package_is_refused_without_the_override(
    sm: Any, marks: RolledBackMarks, two_releases: list[str], target_for: Any, waiter: EndpointWaiter
) -> None:
    rollback_endpoint(sm, ENDPOINT, marks=marks, waiter=waiter)

    with pytest.raises(PackageRolledBack, match=r"was rolled back \(s3://.*/rolled-back/.*--allow-rolled-back$"):
        deploy_package(sm, two_releases[1], target_for(), waiter)
    assert sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"] == f"{ENDPOINT}-v1"


def test_the_override_deploys_it_and_clears_the_mark_once_live(
    sm: Any,
    marks: RolledBackMarks,
    two_releases: list[str],
    target_for: Any,
    waiter: EndpointWaiter,
    progress: list[str],
) -> None:
    rollback_endpoint(sm, ENDPOINT, marks=marks, waiter=waiter)

    result = deploy_package(sm, two_releases[1], target_for(), waiter, allow_rolled_back=True)

    assert result.endpoint_config_name == f"{ENDPOINT}-v2"
    assert marks.mark_of(two_releases[1]) is None
    assert progress[-1] == f"{two_releases[1]} is live again: its rolled-back mark is cleared"
    # the override recorded, then cleared by a new record beside the mark: nothing was deleted or replaced
    listed = marks.s3.list_objects_v2(Bucket=marks.bucket, Prefix=package_prefix(two_releases[1]))["Contents"]
    assert sorted(key["Key"].rsplit(".", 2)[1] for key in listed) == ["cleared", "mark", "override"]


def _refusing(monkeypatch: pytest.MonkeyPatch, suffix: str, code: str = "AccessDenied") -> list[str]:
    """S3 answers `code` to a write of a key ending in `suffix` (as the bucket policy answers a role of the project
    an override or a clearing); returns the keys written."""
    written: list[str] = []
    put = RolledBackMarks._put

    def refusing(self: RolledBackMarks, key: str, body: dict[str, Any]) -> str:
        if key.endswith(suffix):
            raise ClientError({"Error": {"Code": code, "Message": "Access Denied"}}, "PutObject")
        written.append(key)
        return put(self, key, body)

    monkeypatch.setattr(RolledBackMarks, "_put", refusing)
    return written


def test_an_override_the_bucket_refuses_deploys_nothing_and_says_it_needs_an_operator(
    sm: Any,
    marks: RolledBackMarks,
    two_releases: list[str],
    target_for: Any,
    waiter: EndpointWaiter,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """A build step that passes --allow-rolled-back: its role may not write the override record, which comes before
    anything changes, so the endpoint, the models and the mark stay as they were, and the CLI says why in one line."""
    monkeypatch.chdir(tmp_path)  # no cdk.json here: the environment's region is moto's, not the shipped file's
    rollback_endpoint(sm, ENDPOINT, marks=marks, waiter=waiter)
    configs = sm.list_endpoint_configs()["EndpointConfigs"]
    written = _refusing(monkeypatch, OVERRIDE_SUFFIX)

    with pytest.raises(OverrideRefused, match=r"needs operator credentials: .*; nothing was deployed$"):
        deploy_package(sm, two_releases[1], target_for(), waiter, allow_rolled_back=True)
    assert sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"] == f"{ENDPOINT}-v1"
    assert sm.list_endpoint_configs()["EndpointConfigs"] == configs
    assert written == [] and marks.mark_of(two_releases[1]) is not None

    argv = ["deploy", "--project", PROJECT, "--env", ENV, "--package-arn", two_releases[1], "--poll-seconds", "0"]
    assert main([*argv, "--allow-rolled-back"]) == 3
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"safedeploy deploy: refused: clearing the rolled-back mark of {two_releases[1]} needs ")
    assert sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"] == f"{ENDPOINT}-v1"


def test_a_clearing_that_fails_once_live_leaves_the_mark_and_a_second_run_clears_it(
    sm: Any,
    marks: RolledBackMarks,
    two_releases: list[str],
    target_for: Any,
    waiter: EndpointWaiter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Live but not cleared (e.g. throttled): the package stays marked, the failure says so, and the same command
    again is a no-op deploy that writes the clearing."""
    rollback_endpoint(sm, ENDPOINT, marks=marks, waiter=waiter)
    _refusing(monkeypatch, CLEARED_SUFFIX, code="SlowDown")

    with pytest.raises(MarkNotCleared, match=r"is live on .* stays marked; the same command again clears it"):
        deploy_package(sm, two_releases[1], target_for(), waiter, allow_rolled_back=True)
    assert sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"] == f"{ENDPOINT}-v2"
    assert marks.mark_of(two_releases[1]) is not None

    monkeypatch.undo()
    result = deploy_package(sm, two_releases[1], target_for(), waiter, allow_rolled_back=True)
    assert result.action is DeployAction.UNCHANGED and marks.mark_of(two_releases[1]) is None


def test_a_second_rollback_after_the_override_marks_it_again(
    sm: Any, marks: RolledBackMarks, two_releases: list[str], target_for: Any, waiter: EndpointWaiter
) -> None:
    rollback_endpoint(sm, ENDPOINT, marks=marks, waiter=waiter)
    deploy_package(sm, two_releases[1], target_for(), waiter, allow_rolled_back=True)
    marks.mark(two_releases[1], at="2099-01-01T00:00:00+00:00", endpoint_name=ENDPOINT, reason="again")

    assert mark_record(marks, two_releases[1])["reason"] == "again"


def test_sagemakers_auto_rollback_marks_the_candidate(
    sm: Any, marks: RolledBackMarks, target_for: Any, waiter: EndpointWaiter, updates: EndpointUpdates
) -> None:
    target = target_for()
    deploy_package(sm, register_package(sm), target, waiter)
    candidate = register_package(sm)
    updates.plan(ENDPOINT, "rollback", reason="CanaryVerdict alarm")

    with pytest.raises(DeploymentFailed, match="rolled back by SageMaker"):
        deploy_package(sm, candidate, target, waiter)

    assert mark_record(marks, candidate)["reason"] == "CanaryVerdict alarm"
    with pytest.raises(PackageRolledBack):
        deploy_package(sm, candidate, target, waiter)


def test_a_mark_that_cannot_be_written_still_reports_the_rollback(
    sm: Any, target_for: Any, waiter: EndpointWaiter, updates: EndpointUpdates, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deploy fails as a rollback (exit 4), not with a raw S3 error, and says the package is unmarked."""
    target = target_for()
    deploy_package(sm, register_package(sm), target, waiter)
    candidate = register_package(sm)
    updates.plan(ENDPOINT, "rollback", reason="5xx alarm")
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "denied"}}, "PutObject")
    monkeypatch.setattr(RolledBackMarks, "_put", lambda *_: (_ for _ in ()).throw(denied))

    with pytest.raises(DeploymentFailed, match=r"rolled back by SageMaker.*could not be marked rolled back"):
        deploy_package(sm, candidate, target, waiter)


def test_an_unreadable_mark_refuses_the_deploy(sm: Any, target_for: Any, waiter: EndpointWaiter) -> None:
    """Fail closed: a listing that fails (denied, no bucket) is never read as "not rolled back"."""
    target = target_for()
    assert target.marks is not None
    elsewhere = RolledBackMarks(target.marks.s3, "no-such-bucket")

    with pytest.raises(MarkUnreadable, match="cannot read the rolled-back marks"):
        deploy_package(sm, register_package(sm), replace(target, marks=elsewhere), waiter)
    with pytest.raises(MarkUnreadable, match="no rolled-back marks store"):
        deploy_package(sm, register_package(sm), replace(target, marks=None), waiter)
    assert sm.list_endpoints()["Endpoints"] == []


def test_any_record_but_a_clearing_counts_as_a_mark(sm: Any, marks: RolledBackMarks, two_releases: list[str]) -> None:
    prefix = package_prefix(two_releases[1])
    marks.s3.put_object(Bucket=marks.bucket, Key=f"{prefix}20260301T120000Z{OVERRIDE_SUFFIX}", Body=b"{}")
    assert marks.mark_of(two_releases[1]) is None  # an override alone marks nothing
    marks.s3.put_object(Bucket=marks.bucket, Key=f"{prefix}unexpected.json", Body=b"{}")
    assert marks.mark_of(two_releases[1]) is not None
    assert marks.mark_of(two_releases[0]) is None


def test_marks_are_write_once(marks: RolledBackMarks, two_releases: list[str]) -> None:
    at = "2026-03-01T12:00:00+00:00"
    uri = marks.mark(two_releases[1], at=at, endpoint_name=ENDPOINT, reason="first")
    assert marks.mark(two_releases[1], at=at, endpoint_name=ENDPOINT, reason="second") == uri  # same second
    with pytest.raises(AlreadyWritten):
        marks._put(uri.split("/", 3)[3], {"reason": "replaced"})


def test_only_package_versions_have_marks() -> None:
    assert package_prefix("arn:aws:sagemaker:eu-west-1:111122223333:model-package/demo-dev-models/12") == (
        "rolled-back/111122223333/demo-dev-models/12/"
    )
    with pytest.raises(ValueError, match="not a model package version ARN"):
        package_prefix("arn:aws:sagemaker:eu-west-1:111122223333:model-package-group/demo-dev-models")


def test_the_cli_refuses_a_marked_package_with_exit_3(
    sm: Any,
    marks: RolledBackMarks,
    two_releases: list[str],
    waiter: EndpointWaiter,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)  # no cdk.json here: the environment's region is moto's, not the shipped file's
    rollback_endpoint(sm, ENDPOINT, marks=marks, waiter=waiter)
    argv = ["deploy", "--project", PROJECT, "--env", ENV, "--package-arn", two_releases[1], "--poll-seconds", "0"]

    assert main(argv) == 3
    assert "--allow-rolled-back" in capsys.readouterr().err
    assert main([*argv, "--allow-rolled-back"]) == 0
