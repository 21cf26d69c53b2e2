"""Names of resources and SSM parameters: `<project>-<env>-<thing>` and `/<project>/<env>/<key>`.

Physical names are given only where people or runtime code look a resource up by name (pipelines, log groups, the
endpoint, the model package group); buckets keep generated names and are published through SSM instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from safedeploy.parameters import Param, parameter_name


@dataclass(frozen=True)
class Naming:
    project: str
    env: str

    @property
    def prefix(self) -> str:
        return f"{self.project}-{self.env}"

    def resource(self, thing: str) -> str:
        return f"{self.prefix}-{thing}"

    def parameter(self, key: Param) -> str:
        return parameter_name(self.project, self.env, key)

    @property
    def parameter_path(self) -> str:
        """The SSM path that holds every parameter of this environment (for path-scoped IAM)."""
        return f"/{self.project}/{self.env}/"

    @property
    def endpoint(self) -> str:
        return self.resource("endpoint")

    @property
    def pipeline(self) -> str:
        return self.resource("pipeline")

    @property
    def model_package_group(self) -> str:
        return self.resource("models")

    def log_group(self, purpose: str) -> str:
        """CodeBuild log groups keep the playbook's names (`<project>-<env>-TrainLogs`) that operators search for."""
        return self.resource(f"{purpose}Logs")
