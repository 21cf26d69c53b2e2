"""SageMaker tags that record what was deployed and from where, so the next step needs no database.

AddTags overwrites the value of an existing key. Tag values allow letters, digits, spaces and `_ . : / = + - @`,
which fits ARNs, config names and ISO 8601 times (not JSON, hence one key per fact).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

# On models and endpoint configs: the package they were built from.
PACKAGE_ARN = "safedeploy:model-package-arn"
# On experiment configs: what serves beside the candidate, where promotion and rollback lead, and the kind.
EXPERIMENT = "safedeploy:experiment"
BASELINE_CONFIG = "safedeploy:baseline-config"
CANDIDATE_CONFIG = "safedeploy:candidate-config"
# On the endpoint: the live package, the release config a rollback returns to, and the last rollback.
PREVIOUS_CONFIG = "safedeploy:previous-config"
ROLLED_BACK_FROM = "safedeploy:rolled-back-from"
ROLLED_BACK_AT = "safedeploy:rolled-back-at"
# On the endpoint: the config whose deployment `safedeploy deploy` started with the guardrail policy, and when.
# The canary analysis judges only that deployment; a rollback (a plain UpdateEndpoint) empties the config.
GUARDED_CONFIG = "safedeploy:guarded-config"
GUARDED_AT = "safedeploy:guarded-at"


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def read_tags(sm: Any, resource_arn: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    request: dict[str, Any] = {"ResourceArn": resource_arn}
    while True:
        page = sm.list_tags(**request)
        tags.update({tag["Key"]: tag["Value"] for tag in page.get("Tags", [])})
        if not page.get("NextToken"):
            return tags
        request["NextToken"] = page["NextToken"]


def write_tags(sm: Any, resource_arn: str, tags: Mapping[str, str]) -> None:
    sm.add_tags(ResourceArn=resource_arn, Tags=tag_list(tags))


def mark_guarded(sm: Any, endpoint_arn: str, config_name: str) -> None:
    """Record, before switching the endpoint, that its deployment of `config_name` is guarded and analysed."""
    at = datetime.now(UTC).isoformat(timespec="seconds")
    write_tags(sm, endpoint_arn, {GUARDED_CONFIG: config_name, GUARDED_AT: at})
