"""What a training release hands on: the registered package and its headline metrics."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReleaseResult:
    package_arn: str
    metrics: dict[str, float]
