"""Names of resources and SSM parameters, defined once for the stacks that create them and the runtime and doctor
that find them: `<project>-<env>-<thing>` and `/<project>/<env>/<key>`.

Physical names are given only where people or runtime code look a resource up by name (pipelines, log groups, the
endpoint, the model package group, the functions and their roles, the drift schedule and alarms); buckets keep
generated names and are published through SSM instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from safedeploy.parameters import Param, parameter_name

# Every IAM role of the project carries this tag, valued with the project's name (stacks/stage.py): the bucket policy
# denies operator-only records to the project's roles by it as well as by name, since CloudFormation's generated role
# names (`<stack>-<logical id>-<suffix>`, truncated to 64 characters) need not keep the project's prefix.
ROLE_TAG = "safedeploy-project"
# The drift stack's schedule and alarms, which doctor looks for.
DRIFT_SCHEDULE, DRIFT_ALARM, QUALITY_ALARM = "drift-schedule", "drift", "model-quality"


class Function(StrEnum):
    """The Lambda functions: `<project>-<env>-<value>`, run by a role of the same name, code in `lambdas/<folder>/`."""

    CANARY_ANALYSIS = "canary-analysis"
    TRAFFIC_SHIFTER = "traffic-shifter"
    DRIFT_CHECK = "drift-check"
    QUALITY_GATE = "quality-gate"
    APPROVAL_SYNC = "approval-sync"
    PROMOTE = "promote"

    @property
    def folder(self) -> str:
        return self.value.replace("-", "_")


class StackPurpose(StrEnum):
    """The environment's CloudFormation stacks, `<project>-<env>-<value>`, each after the stacks it imports from (the
    monitoring dashboard shows the drift stack's alarms); a teardown deletes them in reverse."""

    STORAGE = "storage"
    PIPELINE = "pipeline"
    SERVING = "serving"
    GUARDRAILS = "guardrails"
    DRIFT = "drift"
    MONITORING = "monitoring"


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
    def project_roles(self) -> str:
        """The role-name pattern of every environment of the project (`<project>-*`), for `aws:PrincipalArn`."""
        return f"{self.project}-*"

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

    def function(self, function: Function) -> str:
        """A function's name, which is also its role's."""
        return self.resource(function)

    @property
    def api_keys_table(self) -> str:
        """The gateway's API keys (DynamoDB), read by the gateway and written by `safedeploy api-key`."""
        return self.resource("gateway-api-keys")

    @property
    def feedback_table(self) -> str:
        """The gateway's once-only feedback records (DynamoDB)."""
        return self.resource("gateway-feedback")

    def log_group(self, purpose: str) -> str:
        """CodeBuild log groups keep the playbook's names (`<project>-<env>-TrainLogs`) that operators search for."""
        return self.resource(f"{purpose}Logs")
