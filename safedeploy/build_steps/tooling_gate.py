"""Prod's Deploy, before it runs anything that came from dev: is the tooling release.json names the one dev approved?

`python3 - RELEASE_JSON SOURCE_BUCKET OUT_DIR` with only the standard library and boto3. The pipeline stack inlines
this file into prod's Deploy buildspec at synth, so it is prod's own code, not the code it verifies, and no branch of
any repository decides what it does. It reads dev's approval record of the named package, downloads the tooling
bundle the record names, checks its sha256 against both the record and release.json, and unpacks it into OUT_DIR;
`safedeploy deploy` from that bundle then verifies the rest of the release. Exit 3 (refused) on any mismatch.
"""

import hashlib
import io
import json
import sys
import tarfile
from pathlib import Path

import boto3

EXIT_BAD_INPUT = 2
EXIT_REFUSED = 3


def refuse(message: str, code: int = EXIT_REFUSED) -> int:
    print(f"safedeploy release gate: refused: {message}; nothing was deployed", file=sys.stderr)
    return code


def main(argv: list[str]) -> int:
    release_path, bucket, out_dir = argv
    try:
        release = json.loads(Path(release_path).read_text())
        package, expected = release["model_package_arn"], release["tooling_sha256"]
        group, version = package.split(":model-package/", 1)[1].split("/")
    except (OSError, ValueError, KeyError, TypeError, IndexError) as error:
        return refuse(f"{release_path} does not name a package and its tooling ({error!r})", EXIT_BAD_INPUT)
    s3 = boto3.client("s3")
    key = f"approvals/{group}/{version}/model.json"
    try:
        record = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except s3.exceptions.NoSuchKey:
        return refuse(f"model package {package} has no approval record (s3://{bucket}/{key})")
    evidence = record.get("evidence") or {}
    if record.get("result") != "Approved" or record.get("package_arn") != package:
        return refuse(f"the approval record s3://{bucket}/{key} does not approve {package}")
    approved = str(evidence.get("tooling_sha256", ""))
    if approved != expected:
        return refuse(f"release.json tooling_sha256 {expected[:16]} is not the approved tooling's {approved[:16]}")
    uri = str(evidence.get("tooling_uri", ""))
    if not uri.startswith(f"s3://{bucket}/tooling/"):
        return refuse(f"the approved tooling {uri!r} is not in s3://{bucket}/tooling/")
    tooling_key = uri.removeprefix(f"s3://{bucket}/")
    data = s3.get_object(Bucket=bucket, Key=tooling_key)["Body"].read()
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        return refuse(f"tooling bundle {uri} has sha256 {actual[:16]}, not the approved {expected[:16]}")
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as bundle:
        bundle.extractall(out_dir, filter="data")
    print(f"deploy tooling {expected[:12]} of commit {str(evidence.get('source_commit', '?'))[:12]} verified")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
