"""A rolled-back package carries a mark, so that no pipeline run or stray command deploys it again by accident.

The mark is a write-once record in the environment's artifacts bucket, `rolled-back/<account>/<group>/<version>/
<time>.mark.json`, not a tag: SageMaker takes no tags on a model package version, and UpdateModelPackage (which
could carry it in CustomerMetadataProperties or ModelLifeCycle) can also approve a package, which the roles that
roll back must not be able to do (docs/aws-behaviours.md). A deploy refuses a marked package unless the operator
passes an explicit override; a deployment made with the override that ends live writes `<time>.cleared.json` beside
each mark it overrode: the package has proved itself again. A package is marked while any record under its prefix is
not a clearing of a mark (so an unexpected key counts as a mark), and a listing that fails counts as marked: an
unreadable mark is never "not rolled back". Any role that may write a mark may also write a clearing today (the
bucket policy does not yet tell the two apart; docs/architecture.md, day-2 operations).
"""

from __future__ import annotations

import json
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from safedeploy.guardrails.errors import PackageRolledBack
from safedeploy.write_once import ROLLED_BACK, AlreadyWritten, put_new_object

MARK_SUFFIX, CLEARED_SUFFIX = ".mark.json", ".cleared.json"


class MarkUnreadable(PackageRolledBack):
    """Whether the package was rolled back cannot be read: it is treated as rolled back."""


def package_prefix(package_arn: str) -> str:
    """`rolled-back/<account>/<group>/<version>/` of a model package version ARN."""
    parts = package_arn.split(":", 5)
    resource = parts[5] if len(parts) == 6 else ""
    kind, _, path = resource.partition("/")
    group, _, version = path.partition("/")
    if parts[0] != "arn" or kind != "model-package" or not group or not version.isdigit():
        raise ValueError(f"{package_arn!r} is not a model package version ARN")
    return f"{ROLLED_BACK}/{parts[4]}/{group}/{version}/"


def _stamp(at: str) -> str:
    return datetime.fromisoformat(at).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


@dataclass(frozen=True)
class Mark:
    """The marks of one package that no clearing overrode (keys under the artifacts bucket)."""

    bucket: str
    keys: tuple[str, ...]

    def describe(self) -> str:
        return ", ".join(f"s3://{self.bucket}/{key}" for key in self.keys)


@dataclass(frozen=True)
class RolledBackMarks:
    """The rolled-back marks of one environment: its artifacts bucket."""

    s3: Any
    bucket: str

    def mark(self, package_arn: str, *, at: str, endpoint_name: str, reason: str) -> str:
        """Write a mark (a second mark in the same second is the same fact: kept as written); returns its URI."""
        key = f"{package_prefix(package_arn)}{_stamp(at)}{MARK_SUFFIX}"
        body = {"package_arn": package_arn, "rolled_back_at": at, "endpoint_name": endpoint_name, "reason": reason}
        try:
            return self._put(key, body)
        except AlreadyWritten:
            return f"s3://{self.bucket}/{key}"

    def clear(self, mark: Mark, *, at: str, endpoint_name: str) -> None:
        """Record that the operator's override brought the package live again despite `mark`."""
        for key in mark.keys:
            cleared = key.removesuffix(MARK_SUFFIX) + CLEARED_SUFFIX
            body = {"cleared_mark": key, "cleared_at": at, "endpoint_name": endpoint_name}
            with suppress(AlreadyWritten):  # cleared already (a retried deploy)
                self._put(cleared, body)

    def mark_of(self, package_arn: str) -> Mark | None:
        """The package's marks no clearing overrode, or None; `MarkUnreadable` when the records cannot be listed."""
        prefix = package_prefix(package_arn)
        try:
            keys = [
                item["Key"]
                for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
                for item in page.get("Contents", [])
            ]
        except (ClientError, BotoCoreError) as error:
            raise MarkUnreadable(
                f"cannot read the rolled-back marks of {package_arn} (s3://{self.bucket}/{prefix}: {error}); "
                "a package whose mark cannot be read is not deployed or promoted"
            ) from None
        cleared = {key.removesuffix(CLEARED_SUFFIX) + MARK_SUFFIX for key in keys if key.endswith(CLEARED_SUFFIX)}
        standing = tuple(sorted(k for k in keys if not k.endswith(CLEARED_SUFFIX) and k not in cleared))
        return Mark(self.bucket, standing) if standing else None

    def _put(self, key: str, body: dict[str, str]) -> str:
        data = json.dumps(body, sort_keys=True).encode()
        return put_new_object(self.s3, bucket=self.bucket, key=key, body=data, ContentType="application/json")
