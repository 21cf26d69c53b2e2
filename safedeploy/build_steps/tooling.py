"""The deploy tooling of one commit as a reproducible bundle: what prod's Deploy runs, named by its sha256.

Prod must run the code dev trained and tested, never a branch head. The Train step packs the tooling of the commit it
builds (the `safedeploy` package, its pins and the deploy buildspec) into a tarball whose bytes depend only on the
files' paths and contents (sorted entries, fixed times, owners and modes), records its digest on the model package,
and prod's Deploy verifies that digest against the approval record before it unpacks and runs anything.
"""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Iterator
from pathlib import Path

from safedeploy.errors import InputError

BUNDLE_NAME = "tooling.tar.gz"
TOOLING_FILES = ("pyproject.toml", "requirements.txt", "buildspec-deploy.yml")
TOOLING_PACKAGE = "safedeploy"
_IGNORED = ("__pycache__", ".pyc", ".egg-info")


def tooling_paths(source_root: Path) -> list[str]:
    """Relative paths of the tooling files under `source_root`, sorted; a missing one is an error."""
    missing = [name for name in (*TOOLING_FILES, TOOLING_PACKAGE) if not (source_root / name).exists()]
    if missing:
        raise InputError(f"{source_root} holds no {', '.join(missing)}: it is not a checkout of the deploy tooling")
    package = (
        path.relative_to(source_root).as_posix()
        for path in (source_root / TOOLING_PACKAGE).rglob("*")
        if path.is_file() and not any(part in path.as_posix() for part in _IGNORED)
    )
    return sorted([*TOOLING_FILES, *package])


def write_bundle(source_root: Path, destination: Path) -> Path:
    """Write the reproducible tarball of the tooling under `source_root` to `destination`."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.write_bytes(bundle_bytes(source_root))
    return destination


def bundle_bytes(source_root: Path) -> bytes:
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in _entries(source_root):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(archive.getvalue(), mtime=0)


def _entries(source_root: Path) -> Iterator[tuple[str, bytes]]:
    for name in tooling_paths(source_root):
        yield name, (source_root / name).read_bytes()
