"""Names of what one package version deploys: model, endpoint configs and variants.

Blue/green and rolling updates require the new endpoint config to keep the old variant name (SageMaker deployment
guardrails, "Exclusions"), so the serving variant is always `AllTraffic`; the version lives in the model and
endpoint-config names (`<endpoint>-v<version>`) and in their tags. Only the candidate of an A/B test or a shadow
test, which sits beside the serving variant, is named after its version (`v<version>`).
"""

from __future__ import annotations

from dataclasses import dataclass

PRODUCTION_VARIANT = "AllTraffic"
# SageMaker's limit for model, endpoint-config and variant names.
NAME_LIMIT = 63


@dataclass(frozen=True)
class ReleaseNames:
    endpoint_name: str
    version: int

    def __post_init__(self) -> None:
        longest = self.shadow_config
        if len(longest) > NAME_LIMIT:
            raise ValueError(
                f"endpoint name {self.endpoint_name!r} is too long for versioned names: {longest!r} exceeds "
                f"SageMaker's {NAME_LIMIT} characters"
            )

    @property
    def release_config(self) -> str:
        """The endpoint config (and model) that serves this version alone."""
        return f"{self.endpoint_name}-v{self.version}"

    @property
    def model_name(self) -> str:
        return self.release_config

    @property
    def candidate_variant(self) -> str:
        return f"v{self.version}"

    @property
    def ab_config(self) -> str:
        return f"{self.release_config}-ab"

    @property
    def shadow_config(self) -> str:
        return f"{self.release_config}-shadow"

    @property
    def all_configs(self) -> tuple[str, str, str]:
        return self.release_config, self.ab_config, self.shadow_config
