"""The model-registry calls release control depends on, as a protocol rather than an import.

The decisions here only need four registry operations; taking them as an argument keeps release control testable
with an in-memory registry and lets the handlers pass the real module (`safedeploy.registry`).
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol


class Registry(Protocol):
    def package_metrics(self, sm: Any, s3: Any, package_arn: str) -> dict[str, float]: ...

    def approval_status(self, sm: Any, package_arn: str) -> str: ...

    def latest_package(self, sm: Any, group: str, status: str | None) -> str | None: ...

    def set_approval(self, sm: Any, package_arn: str, status: str, description: str) -> None: ...


def default_registry() -> Registry:
    """The `safedeploy.registry` module, imported on first use so that importing a handler never needs it."""
    return importlib.import_module("safedeploy.registry")  # type: ignore[return-value]
