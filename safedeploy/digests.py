"""SHA-256 of files and S3 objects, streamed: the identity of the bytes a release names, whatever their size."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, BinaryIO

from safedeploy.s3_layout import split_s3_uri

CHUNK_BYTES = 1 << 20


def sha256_stream(stream: BinaryIO, sink: BinaryIO | None = None) -> str:
    """Hex digest of everything `stream` yields, copied to `sink` on the way when one is given."""
    digest = hashlib.sha256()
    while chunk := stream.read(CHUNK_BYTES):
        digest.update(chunk)
        if sink is not None:
            sink.write(chunk)
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    with path.open("rb") as stream:
        return sha256_stream(stream)


def sha256_s3_object(s3: Any, uri: str, sink: BinaryIO | None = None) -> str:
    """Digest of the object's current bytes (read through, never trusted from its metadata)."""
    bucket, key = split_s3_uri(uri)
    return sha256_stream(s3.get_object(Bucket=bucket, Key=key)["Body"], sink)
