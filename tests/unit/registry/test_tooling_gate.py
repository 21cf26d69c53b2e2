"""Prod's tooling gate against an approved bundle a build step made hostile: one refusal line, nothing unpacked."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from safedeploy.build_steps import tooling_gate
from safedeploy.guardrails import resource_tags
from safedeploy.parameters import Param, parameter_name
from testbed.aws import REGION, SESSION, in_process_aws
from testbed.deploy_world import ROLE_ARN

BUCKET = "demo-dev-artifacts"
PACKAGE = "arn:aws:sagemaker:ap-northeast-2:123456789012:model-package/demo-dev-models/1"
ENDPOINT = "demo-prod-endpoint"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """dev's artifacts bucket, and prod's Deploy environment (its endpoint's name in SSM, no endpoint yet)."""
    with in_process_aws(monkeypatch):
        for name, value in {"AWS_DEFAULT_REGION": REGION, "PROJECT": "demo", "ENV": "prod"}.items():
            monkeypatch.setenv(name, value)
        SESSION.client("ssm").put_parameter(Name="/demo/prod/endpoint-name", Value=ENDPOINT, Type="String")
        client = SESSION.client("s3")
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        yield client


def bundle(*members: tarfile.TarInfo) -> bytes:
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(_file("safedeploy/__init__.py"), io.BytesIO(b""))
        for member in members:
            tar.addfile(member, io.BytesIO(b"x" * member.size) if member.isfile() else None)
    return gzip.compress(archive.getvalue(), mtime=0)


def _file(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = 1 if name != "safedeploy/__init__.py" else 0
    return info


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def gate(s3: Any, tmp_path: Path, data: bytes) -> tuple[int, Path]:
    """An approved release whose approved tooling bundle is `data`; the gate's exit code and its output folder."""
    digest = hashlib.sha256(data).hexdigest()
    uri = f"s3://{BUCKET}/tooling/abc/1/tooling.tar.gz"
    s3.put_object(Bucket=BUCKET, Key="tooling/abc/1/tooling.tar.gz", Body=data)
    record = {
        "result": "Approved",
        "package_arn": PACKAGE,
        "evidence": {"tooling_sha256": digest, "tooling_uri": uri, "source_commit": "abc"},
    }
    s3.put_object(Bucket=BUCKET, Key="approvals/demo-dev-models/1/model.json", Body=json.dumps(record).encode())
    release = tmp_path / "release.json"
    release.write_text(json.dumps({"model_package_arn": PACKAGE, "tooling_sha256": digest}))
    out = tmp_path / "tooling"
    out.mkdir(exist_ok=True)
    return tooling_gate.main([str(release), BUCKET, str(out)]), out


@pytest.mark.parametrize(
    ("member", "named"),
    [
        (_file("../outside.py"), "'../outside.py'"),
        (_file("/etc/cron.d/job"), "'/etc/cron.d/job'"),
        (_link("safedeploy/evil", "/etc/passwd"), "'safedeploy/evil'"),
        (_link("safedeploy/inside", "__init__.py"), "'safedeploy/inside'"),
        (_link("safedeploy/hard", "/etc/shadow", tarfile.LNKTYPE), "'safedeploy/hard'"),
    ],
)
def test_a_hostile_bundle_is_refused_with_one_line_before_anything_is_unpacked(
    s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], member: tarfile.TarInfo, named: str
) -> None:
    """It was never unpacked outside its folder, but the gate ended in a traceback (exit 1) instead of a refusal."""
    code, out = gate(s3, tmp_path, bundle(member))
    error = capsys.readouterr().err
    assert code == tooling_gate.EXIT_REFUSED
    assert error == (
        f"safedeploy release gate: refused: tooling bundle s3://{BUCKET}/tooling/abc/1/tooling.tar.gz holds {named}, "
        "which is not a regular file at a relative path inside the bundle (no link, device, absolute path or '..'); "
        "nothing was deployed\n"
    )
    assert list(out.iterdir()) == [] and not (tmp_path / "outside.py").exists()


def test_an_approved_bundle_that_is_not_a_tarball_is_refused(
    s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = gate(s3, tmp_path, b"not a gzip stream")
    assert code == tooling_gate.EXIT_REFUSED
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("safedeploy release gate: refused: tooling bundle s3://") and "cannot be unpacked" in line


def test_a_plain_bundle_is_unpacked(s3: Any, tmp_path: Path) -> None:
    code, out = gate(s3, tmp_path, bundle(_file("safedeploy/cli/__init__.py")))
    assert code == 0 and (out / "safedeploy" / "cli" / "__init__.py").read_bytes() == b"x"


def serving(version: int) -> None:
    """prod's endpoint serving `version` of dev's group, tagged as `safedeploy deploy` tags it."""
    sm = SESSION.client("sagemaker")
    sm.create_model(ModelName="m", ExecutionRoleArn=ROLE_ARN, PrimaryContainer={"Image": "image"})
    variant = {"VariantName": "AllTraffic", "ModelName": "m", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
    sm.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[variant])
    arn = sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName="c")["EndpointArn"]
    live = PACKAGE.rsplit("/", 1)[0] + f"/{version}"
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": resource_tags.PACKAGE_ARN, "Value": live}])


def test_an_older_release_than_the_live_one_needs_the_downgrade_flag_the_approval_shows(
    s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Re-committing an older release.json redeployed an older approved package with nothing saying so."""
    serving(2)
    monkeypatch.setenv("RELEASE_COMMIT_MESSAGE", "Promote ... (an older release.json committed again)")
    code, out = gate(s3, tmp_path, bundle())
    assert code == tooling_gate.EXIT_REFUSED and list(out.iterdir()) == []
    assert capsys.readouterr().err == (
        f"safedeploy release gate: refused: release.json names version 1 of demo-dev-models, older than the live "
        f"{PACKAGE[:-1]}2: a downgrade deploys only when the release commit's message (shown in the approval) begins "
        "with DOWNGRADE; nothing was deployed\n"
    )
    monkeypatch.setenv("RELEASE_COMMIT_MESSAGE", "DOWNGRADE: back to version 1 after the incident")
    code, _ = gate(s3, tmp_path, bundle())
    assert code == 0
    assert f"downgrade: version 1 of demo-dev-models replaces the live {PACKAGE[:-1]}2" in capsys.readouterr().out


def test_the_flag_and_the_check_agree_with_the_library_and_the_approval(s3: Any) -> None:
    assert tooling_gate.PACKAGE_TAG == resource_tags.PACKAGE_ARN
    assert tooling_gate.ENDPOINT_PARAMETER.format(project="p", env="e") == parameter_name("p", "e", Param.ENDPOINT_NAME)
