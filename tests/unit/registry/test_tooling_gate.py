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
from tests.support.aws import REGION, SESSION, in_process_aws

BUCKET = "demo-dev-artifacts"
PACKAGE = "arn:aws:sagemaker:ap-northeast-2:123456789012:model-package/demo-dev-models/1"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with in_process_aws(monkeypatch):
        monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
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
    out.mkdir()
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
