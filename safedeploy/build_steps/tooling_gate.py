"""Prod's Deploy, before it runs anything that came from dev: is the tooling release.json names the one dev approved?

`python3 - RELEASE_JSON SOURCE_BUCKET OUT_DIR` with only the standard library and boto3. The pipeline stack inlines
this file into prod's Deploy buildspec at synth, so it is prod's own code, not the code it verifies, and no branch of
any repository decides what it does. It reads dev's approval record of the named package, downloads the tooling
bundle the record names, checks its sha256 against both the record and release.json, and unpacks it into OUT_DIR;
`safedeploy deploy` from that bundle then verifies the rest of the release. Exit 3 (refused) on any mismatch, and on a
bundle that holds anything but regular files at relative paths without `..` (the Train step writes nothing else, so
such a member was put there by hand: refused before anything is unpacked, not merely kept inside OUT_DIR).

A release older than the package the endpoint serves (a re-committed older release.json) is a downgrade: it deploys
only when the release commit's message, which prod's approver read in the approval, begins with `DOWNGRADE`
(the action passes it as RELEASE_COMMIT_MESSAGE). This check is here, in prod's own code, because an older release
brings the older tooling that would deploy it.
"""

import hashlib
import io
import json
import os
import sys
import tarfile
import zlib
from pathlib import Path, PurePosixPath

import boto3
from botocore.exceptions import BotoCoreError, ClientError

EXIT_BAD_INPUT = 2
EXIT_REFUSED = 3
DOWNGRADE_FLAG = "DOWNGRADE"
# The endpoint's tag naming the package it serves, and the SSM parameter naming the endpoint (the library's
# `resource_tags.PACKAGE_ARN` and `Param.ENDPOINT_NAME`: this script runs before any of the library is trusted).
PACKAGE_TAG = "safedeploy:model-package-arn"
ENDPOINT_PARAMETER = "/{project}/{env}/endpoint-name"


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
        # Asked by a prefix listing, as safedeploy/s3_objects.py does (this file imports nothing of safedeploy):
        # without s3:ListBucket on the whole bucket, S3 answers a GET of a missing key with 403, not 404.
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1).get("Contents", [])
        if not listed or listed[0]["Key"] != key:
            return refuse(f"model package {package} has no approval record (s3://{bucket}/{key})")
        record = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except (ClientError, BotoCoreError, ValueError) as error:
        return refuse(f"the approval record s3://{bucket}/{key} cannot be read ({error})")
    evidence = record.get("evidence") if isinstance(record, dict) else None
    if not isinstance(evidence, dict) or record.get("result") != "Approved" or record.get("package_arn") != package:
        return refuse(f"the approval record s3://{bucket}/{key} does not approve {package}")
    approved = str(evidence.get("tooling_sha256", ""))
    if approved != expected:
        return refuse(f"release.json tooling_sha256 {expected[:16]} is not the approved tooling's {approved[:16]}")
    downgrade = _downgrade_refusal(group, int(version) if version.isdigit() else 0)
    if downgrade:
        return refuse(downgrade)
    uri = str(evidence.get("tooling_uri", ""))
    if not uri.startswith(f"s3://{bucket}/tooling/"):
        return refuse(f"the approved tooling {uri!r} is not in s3://{bucket}/tooling/")
    tooling_key = uri.removeprefix(f"s3://{bucket}/")
    try:
        data = s3.get_object(Bucket=bucket, Key=tooling_key)["Body"].read()
    except (ClientError, BotoCoreError) as error:
        return refuse(f"the approved tooling bundle {uri} cannot be read ({error})")
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        return refuse(f"tooling bundle {uri} has sha256 {actual[:16]}, not the approved {expected[:16]}")
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as bundle:
            hostile = next((member for member in bundle.getmembers() if not _plain_file(member)), None)
            if hostile is not None:
                return refuse(
                    f"tooling bundle {uri} holds {hostile.name!r}, which is not a regular file at a relative path "
                    "inside the bundle (no link, device, absolute path or '..')"
                )
            bundle.extractall(out_dir, filter="data")
    except (tarfile.TarError, OSError, EOFError, zlib.error) as error:
        return refuse(f"tooling bundle {uri} cannot be unpacked ({error})")
    print(f"deploy tooling {expected[:12]} of commit {str(evidence.get('source_commit', '?'))[:12]} verified")
    return 0


def _downgrade_refusal(group: str, version: int) -> str | None:
    """Why version `version` of `group` may not replace the live package (None when it may)."""
    try:
        parameter = ENDPOINT_PARAMETER.format(project=os.environ["PROJECT"], env=os.environ["ENV"])
        endpoint = boto3.client("ssm").get_parameter(Name=parameter)["Parameter"]["Value"]
        sm = boto3.client("sagemaker")
        try:
            arn = sm.describe_endpoint(EndpointName=endpoint)["EndpointArn"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ValidationException":
                return None  # no endpoint yet: nothing to downgrade from
            raise
        tags = {tag["Key"]: tag["Value"] for tag in sm.list_tags(ResourceArn=arn).get("Tags", [])}
    except KeyError as missing:
        return f"{missing} is not set: the gate cannot tell which endpoint the release replaces"
    except (ClientError, BotoCoreError) as error:
        return f"the live package cannot be read ({error})"
    live = tags.get(PACKAGE_TAG, "")
    live_group, _, live_version = live.partition(":model-package/")[2].partition("/")
    if live_group != group or not live_version.isdigit() or int(live_version) <= version:
        return None
    message = os.environ.get("RELEASE_COMMIT_MESSAGE", "")
    if message.startswith(DOWNGRADE_FLAG):
        print(f"downgrade: version {version} of {group} replaces the live {live}, as the release commit says")
        return None
    return (
        f"release.json names version {version} of {group}, older than the live {live}: a downgrade deploys only "
        f"when the release commit's message (shown in the approval) begins with {DOWNGRADE_FLAG}"
    )


def _plain_file(member: tarfile.TarInfo) -> bool:
    path = PurePosixPath(member.name)
    return member.isfile() and not path.is_absolute() and ".." not in path.parts and bool(member.name.strip("/"))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
