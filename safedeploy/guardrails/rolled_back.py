"""A rolled-back package carries a mark, so that no pipeline run or stray command deploys it again by accident.

The mark is a write-once record in the environment's artifacts bucket, `rolled-back/<account>/<group>/<version>/
<time>.mark.json`, not a tag: SageMaker takes no tags on a model package version, and UpdateModelPackage (which
could carry it in CustomerMetadataProperties or ModelLifeCycle) can also approve a package, which the roles that
roll back must not be able to do (docs/aws-behaviours.md). A deploy refuses a marked package unless the operator
passes an explicit override. The override is recorded first, `<time>.override.json`, before anything changes; a
deployment made with it that ends live writes `<time>.cleared.json` beside each mark it overrode: the package has
proved itself again. A package is marked while any record under its prefix is neither an override nor a clearing
nor a mark a clearing overrode (so an unexpected key counts as a mark), and a listing that fails counts as marked:
an unreadable mark is never "not rolled back". Overrides and clearings need operator credentials: the roles of the
project may write marks alone (their grant is `rolled-back/*.mark.json`), and the bucket policy denies them the
other two (stacks/storage_stack.py), so a build step that passes the override is refused before it deploys.
"""

from __future__ import annotations

import json
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from safedeploy.errors import InputError
from safedeploy.guardrails.errors import PackageRolledBack
from safedeploy.s3_layout import ROLLED_BACK
from safedeploy.write_once import (
    CLEARED_SUFFIX,
    MARK_SUFFIX,
    OVERRIDE_SUFFIX,
    AlreadyWritten,
    put_new_object,
)


class MarkUnreadable(PackageRolledBack):
    """Whether the package was rolled back cannot be read: it is treated as rolled back."""


class OverrideRefused(PackageRolledBack):
    """The caller may not override a mark (the bucket refused the override record): not an operator."""


def package_prefix(package_arn: str) -> str:
    """`rolled-back/<account>/<group>/<version>/` of a model package version ARN."""
    parts = package_arn.split(":", 5)
    resource = parts[5] if len(parts) == 6 else ""
    kind, _, path = resource.partition("/")
    group, _, version = path.partition("/")
    if parts[0] != "arn" or kind != "model-package" or not group or not version.isdigit():
        raise InputError(f"{package_arn!r} is not a model package version ARN")
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

    def override(self, package_arn: str, mark: Mark, *, at: str, endpoint_name: str) -> str:
        """Record the operator's decision to deploy `package_arn` despite `mark`, before anything changes; returns
        its URI. `OverrideRefused` when the bucket denies it: the caller is a role of the project, not an operator."""
        key = f"{package_prefix(package_arn)}{_stamp(at)}{OVERRIDE_SUFFIX}"
        body = {
            "package_arn": package_arn,
            "overridden_marks": list(mark.keys),
            "at": at,
            "endpoint_name": endpoint_name,
        }
        try:
            return self._put(key, body)
        except AlreadyWritten:  # the same override in the same second (a retried deploy)
            return f"s3://{self.bucket}/{key}"
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "AccessDenied":  # S3's code for a denied request
                raise
            raise OverrideRefused(
                f"clearing the rolled-back mark of {package_arn} needs operator credentials: s3://{self.bucket} "
                "refused this caller the override record (no role of the project, build steps included, may override "
                "or clear a mark); nothing was deployed"
            ) from None

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
        not_marks = (CLEARED_SUFFIX, OVERRIDE_SUFFIX)
        standing = tuple(sorted(k for k in keys if not k.endswith(not_marks) and k not in cleared))
        return Mark(self.bucket, standing) if standing else None

    def _put(self, key: str, body: dict[str, Any]) -> str:
        data = json.dumps(body, sort_keys=True).encode()
        return put_new_object(self.s3, bucket=self.bucket, key=key, body=data, ContentType="application/json")
