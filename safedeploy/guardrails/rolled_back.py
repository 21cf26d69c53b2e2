"""A rolled-back package carries a mark, so that no pipeline run or stray command deploys it again by accident.

The mark is a tag on the model package version (the registry is shared by every environment of a chain, so a model
rolled back in staging does not reach prod either). A deploy refuses a marked package unless the operator passes an
explicit override; a deployment made with the override that ends live clears the mark: the package has proved
itself again. The tag rather than the package's approval status: only a person's decision changes that status, and
the canary's Lambda, which rolls back, must not hold UpdateModelPackage (which could approve).
"""

from __future__ import annotations

import re
from typing import Any

from safedeploy.guardrails import resource_tags

ROLLED_BACK = "safedeploy:rolled-back"
# SageMaker tag values: at most 256 characters of letters, digits, spaces and _ . : / = + - @.
_TAG_VALUE_LIMIT = 256
_NOT_ALLOWED = re.compile(r"[^\w .:/=+\-@]")


def mark_value(at: str, endpoint_name: str, reason: str) -> str:
    text = _NOT_ALLOWED.sub(" ", f"{at} on {endpoint_name}: {reason}")
    return text[:_TAG_VALUE_LIMIT]


def mark(sm: Any, package_arn: str, *, at: str, endpoint_name: str, reason: str) -> None:
    resource_tags.write_tags(sm, package_arn, {ROLLED_BACK: mark_value(at, endpoint_name, reason)})


def mark_of(sm: Any, package_arn: str) -> str | None:
    """When, where and why the package was rolled back, or None."""
    return resource_tags.read_tags(sm, package_arn).get(ROLLED_BACK)


def clear(sm: Any, package_arn: str) -> None:
    sm.delete_tags(ResourceArn=package_arn, TagKeys=[ROLLED_BACK])
