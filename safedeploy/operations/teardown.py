"""Tear one environment down: first what the deploys created outside CloudFormation, then the stacks.

The endpoint, its endpoint configs and models are created by `safedeploy deploy`, not by `cdk deploy`, so
`cdk destroy` would leave them running and billing. Teardown removes, in order: the autoscaling of the endpoint's
variants (scaling policies go with their scalable target), the endpoint, every endpoint config and model of the
endpoint (`<endpoint>` and `<endpoint>-v<version>[-ab|-shadow]`), then the stacks in the reverse of their creation
order. What CloudFormation keeps (resources with DeletionPolicy Retain, e.g. prod's buckets, key, registry and
repository) is read from the templates before deletion and reported at the end.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from safedeploy.guardrails.deploy_target import read_optional_parameter
from safedeploy.naming import Naming, StackPurpose
from safedeploy.parameters import Param

# The stacks of one environment, in deletion order (the reverse of stacks/stage.py's creation order).
# Each stack is deleted before the ones it imports from (tests/unit/stacks/test_stack_purposes.py).
STACK_PURPOSES = tuple(reversed(StackPurpose))
PRODUCTION = "prod"
# An endpoint in these states cannot be deleted yet; it leaves them by itself.
BUSY = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack"})
RETAINED_POLICIES = frozenset({"Retain", "RetainExceptOnCreate", "Snapshot"})

Progress = Callable[[str], None]


class TeardownRefused(ValueError):
    """Teardown would delete something protected without the operator's explicit confirmation."""


@dataclass(frozen=True)
class Retained:
    resource_type: str
    physical_id: str
    stack: str

    def line(self) -> str:
        return f"{self.resource_type} {self.physical_id} (from {self.stack})"


@dataclass
class TeardownReport:
    removed: list[str] = field(default_factory=list)
    retained: list[Retained] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"removed {len(self.removed)}: " + (", ".join(self.removed) or "nothing")]
        lines.append("retained (delete by hand if no longer needed):" if self.retained else "retained: nothing")
        lines += [f"  {item.line()}" for item in self.retained]
        return "\n".join(lines)


@dataclass
class Teardown:
    client: Callable[[str], Any]
    project: str
    env: str
    progress: Progress = print
    poll_seconds: float = 10.0
    timeout_seconds: float = 3600.0
    sleep: Callable[[float], None] = time.sleep
    report: TeardownReport = field(default_factory=TeardownReport)

    @property
    def naming(self) -> Naming:
        return Naming(self.project, self.env)

    @property
    def prefix(self) -> str:
        return self.naming.prefix

    def stack_names(self) -> list[str]:
        return [self.naming.resource(purpose) for purpose in STACK_PURPOSES]

    def check_allowed(self, *, confirm_production: bool) -> list[dict[str, Any]]:
        """The environment's existing stacks; refuses prod or a protected stack without the confirmation."""
        stacks = [stack for name in self.stack_names() if (stack := self._describe_stack(name)) is not None]
        protected = [stack["StackName"] for stack in stacks if stack.get("EnableTerminationProtection")]
        if not confirm_production and (self.env == PRODUCTION or protected):
            what = f"{self.prefix} is production" if self.env == PRODUCTION else f"{', '.join(protected)} protected"
            raise TeardownRefused(
                f"{what}: teardown deletes its endpoint and stacks; pass --confirm-production to go ahead"
            )
        return stacks

    def run(self, *, confirm_production: bool = False) -> TeardownReport:
        stacks = self.check_allowed(confirm_production=confirm_production)
        endpoint = self._endpoint_name()
        self.progress(f"[1/4] autoscaling of {endpoint}")
        self._deregister_autoscaling(endpoint)
        self.progress(f"[2/4] endpoint {endpoint}")
        self._delete_endpoint(endpoint)
        self.progress(f"[3/4] endpoint configs and models of {endpoint}")
        self._delete_configs_and_models(endpoint)
        self.progress(f"[4/4] stacks of {self.prefix}: {', '.join(s['StackName'] for s in stacks) or 'none deployed'}")
        for stack in stacks:
            self._delete_stack(stack, confirm_production=confirm_production)
        return self.report

    # --- what the deploys created ------------------------------------------------------------------------------

    def _endpoint_name(self) -> str:
        """From the environment's SSM parameter while it exists, else the stacks' naming (`<prefix>-endpoint`)."""
        published = read_optional_parameter(self.client("ssm"), self.project, self.env, Param.ENDPOINT_NAME)
        return published or self.naming.endpoint

    def _deregister_autoscaling(self, endpoint: str) -> None:
        autoscaling = self.client("application-autoscaling")
        pages = autoscaling.get_paginator("describe_scalable_targets").paginate(ServiceNamespace="sagemaker")
        prefix = f"endpoint/{endpoint}/variant/"
        for target in (t for page in pages for t in page["ScalableTargets"] if t["ResourceId"].startswith(prefix)):
            autoscaling.deregister_scalable_target(
                ServiceNamespace="sagemaker",
                ResourceId=target["ResourceId"],
                ScalableDimension=target["ScalableDimension"],
            )
            self._removed(f"scalable target {target['ResourceId']}")

    def _delete_endpoint(self, endpoint: str) -> None:
        sm = self.client("sagemaker")
        status = self._endpoint_status(sm, endpoint)
        if status is None:
            self.progress(f"  {endpoint} does not exist")
            return
        waited = 0.0
        while status in BUSY:
            self._wait(f"  {endpoint} is {status}; waiting before deleting it", waited)
            waited += self.poll_seconds
            status = self._endpoint_status(sm, endpoint)
        if status is not None and status != "Deleting":
            sm.delete_endpoint(EndpointName=endpoint)
        waited = 0.0
        while (status := self._endpoint_status(sm, endpoint)) is not None:
            if status == "Failed":
                raise RuntimeError(f"endpoint {endpoint} failed to delete; see the SageMaker console")
            self._wait(f"  {endpoint} is {status}", waited)
            waited += self.poll_seconds
        self._removed(f"endpoint {endpoint}")

    def _delete_configs_and_models(self, endpoint: str) -> None:
        own = re.compile(rf"^{re.escape(endpoint)}(-v\d+(-ab|-shadow)?)?$")
        sm = self.client("sagemaker")
        configs = self._names(sm, "list_endpoint_configs", "EndpointConfigs", "EndpointConfigName", endpoint)
        for name in filter(own.match, configs):
            sm.delete_endpoint_config(EndpointConfigName=name)
            self._removed(f"endpoint config {name}")
        for name in filter(own.match, self._names(sm, "list_models", "Models", "ModelName", endpoint)):
            sm.delete_model(ModelName=name)
            self._removed(f"model {name}")

    # --- the stacks ---------------------------------------------------------------------------------------------

    def _delete_stack(self, stack: dict[str, Any], *, confirm_production: bool) -> None:
        cloudformation = self.client("cloudformation")
        name = stack["StackName"]
        retained = self._retained_resources(cloudformation, name)
        if stack.get("EnableTerminationProtection") and confirm_production:
            cloudformation.update_termination_protection(StackName=name, EnableTerminationProtection=False)
            self.progress(f"  {name}: termination protection turned off (--confirm-production)")
        cloudformation.delete_stack(StackName=name)
        waited, last = 0.0, ""
        while (current := self._describe_stack(name)) is not None:
            status = current["StackStatus"]
            if status == "DELETE_COMPLETE":
                break
            if status == "DELETE_FAILED":
                raise RuntimeError(f"stack {name} DELETE_FAILED: {current.get('StackStatusReason', 'no reason')}")
            if status != last:
                self.progress(f"  {name}: {status}")
                last = status
            self._wait("", waited)
            waited += self.poll_seconds
        self._removed(f"stack {name}")
        self.report.retained += retained

    def _retained_resources(self, cloudformation: Any, name: str) -> list[Retained]:
        template = cloudformation.get_template(StackName=name, TemplateStage="Original")["TemplateBody"]
        resources = template.get("Resources", {}) if isinstance(template, dict) else {}
        kept = {key for key, value in resources.items() if value.get("DeletionPolicy") in RETAINED_POLICIES}
        pages = cloudformation.get_paginator("list_stack_resources").paginate(StackName=name)
        return [
            Retained(summary["ResourceType"], summary.get("PhysicalResourceId", summary["LogicalResourceId"]), name)
            for page in pages
            for summary in page["StackResourceSummaries"]
            if summary["LogicalResourceId"] in kept
        ]

    # --- helpers ------------------------------------------------------------------------------------------------

    def _describe_stack(self, name: str) -> dict[str, Any] | None:
        try:
            (stack,) = self.client("cloudformation").describe_stacks(StackName=name)["Stacks"]
        except ClientError as error:
            if "does not exist" in str(error.response.get("Error", {}).get("Message", "")):
                return None
            raise
        return None if stack["StackStatus"] == "DELETE_COMPLETE" else stack

    @staticmethod
    def _endpoint_status(sm: Any, endpoint: str) -> str | None:
        try:
            return str(sm.describe_endpoint(EndpointName=endpoint)["EndpointStatus"])
        except ClientError as error:
            if "Could not find endpoint" in str(error.response.get("Error", {}).get("Message", "")):
                return None
            raise

    @staticmethod
    def _names(sm: Any, operation: str, key: str, field_name: str, contains: str) -> Iterator[str]:
        for page in sm.get_paginator(operation).paginate(NameContains=contains):
            yield from (item[field_name] for item in page[key])

    def _wait(self, message: str, waited: float) -> None:
        if waited >= self.timeout_seconds:
            raise TimeoutError(f"teardown of {self.prefix} still waiting after {waited:.0f} s")
        if message:
            self.progress(f"{message} ({waited:.0f} s)")
        self.sleep(self.poll_seconds)

    def _removed(self, what: str) -> None:
        self.report.removed.append(what)
        self.progress(f"  removed {what}")
