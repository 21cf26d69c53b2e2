"""SageMaker behaviour moto 5.2.5 lacks or gets wrong, patched into moto's backend and response classes.

The patches live on the classes, so the same extension serves `mock_aws` in-process and a `ThreadedMotoServer` in
this process (which subprocesses reach over HTTP). They are active only inside `sagemaker_extensions()`, so tests
that expect plain moto elsewhere in the same worker are not affected.

What is added or corrected (each checked against the SageMaker API reference):
- UpdateEndpoint (not implemented): the endpoint goes Updating with a PendingDeploymentSummary, and after a planned
  number of DescribeEndpoint polls ends as the test decided: on the new config (succeed), InService on the old
  config with a FailureReason (SageMaker's auto-rollback), or UpdateRollbackFailed. An update of an endpoint that
  is still changing is refused, as SageMaker does; a guarded update must keep the variant names.
- CreateEndpointConfig/DescribeEndpointConfig/DescribeEndpoint drop ShadowProductionVariants: kept.
- UpdateEndpointWeightsAndCapacities erases the instance count (or weight) it was not asked to change: kept.
- AddTags appends a second value for an existing key: the value is replaced.
- UpdateModelPackage without CustomerMetadataProperties erases them: kept (and merged when given).
- sagemaker-runtime InvokeEndpoint answers for endpoints that do not exist: refused (ValidationError).
- AddTags/ListTags/DeleteTags on a versioned model package (`model-package/<group>/<version>`): refused with the
  error aws-cdk#33699 quotes ("Tags are not supported in Model Package versions"); CreateModelPackage documents that
  a versioned package "uses the tags associated with the model group" and takes no Tags of its own. Whether ListTags
  is refused too is not documented: refusing it here keeps the code from depending on it.
"""

from __future__ import annotations

import urllib.parse
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from unittest.mock import patch

from moto.cloudwatch.models import CloudWatchBackend
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import FakeEndpoint, FakeEndpointConfig, SageMakerModelBackend, sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemakerruntime.models import sagemakerruntime_backends
from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

Outcome = Literal["succeed", "rollback", "fail"]
# DescribeEndpoint calls an update takes: the first shows Updating, the second the outcome.
DEFAULT_POLLS = 2
_STATE_ATTRIBUTE = "safedeploy_endpoint_updates"
_active_depth = 0


@dataclass
class PlannedUpdate:
    outcome: Outcome = "succeed"
    polls: int = DEFAULT_POLLS
    reason: str | None = None


@dataclass
class _InFlight:
    config_name: str
    deployment_config: dict[str, Any] | None
    plan: PlannedUpdate
    polls_left: int
    # Variant name -> instance count kept by RetainAllVariantProperties (unless DesiredInstanceCount is excluded).
    retained_counts: dict[str, int] = field(default_factory=dict)


@dataclass
class EndpointUpdates:
    """Per account and region: what the next UpdateEndpoint of each endpoint does, and every request received."""

    plans: defaultdict[str, deque[PlannedUpdate]] = field(default_factory=lambda: defaultdict(deque))
    requests: list[dict[str, Any]] = field(default_factory=list)
    in_flight: dict[str, _InFlight] = field(default_factory=dict)
    # The time SageMaker stamps on updates and weight steps (naive UTC, as moto keeps it); a replay that simulates
    # minutes sets its own clock so StartTime and LastModifiedTime agree with the minutes it plays.
    clock: Callable[[], datetime] = utcnow

    def plan(
        self, endpoint_name: str, outcome: Outcome = "succeed", polls: int = DEFAULT_POLLS, reason: str = ""
    ) -> None:
        """Queue the outcome of the next update of `endpoint_name` (unplanned updates succeed)."""
        if polls < 1:
            raise ValueError("an update takes at least one DescribeEndpoint poll")
        self.plans[endpoint_name].append(PlannedUpdate(outcome, polls, reason or None))

    def finish(self, endpoint_name: str, outcome: Outcome, reason: str = "") -> None:
        """End the in-flight update at the next DescribeEndpoint as `outcome` (as SageMaker does on an alarm)."""
        flight = self.in_flight.get(endpoint_name)
        if flight is None:
            raise ValueError(f"no update of {endpoint_name} is in flight")
        flight.plan = PlannedUpdate(outcome, flight.plan.polls, reason or None)
        flight.polls_left = 1

    def requests_for(self, endpoint_name: str) -> list[dict[str, Any]]:
        return [request for request in self.requests if request["EndpointName"] == endpoint_name]


def endpoint_updates(region: str, account_id: str = DEFAULT_ACCOUNT_ID) -> EndpointUpdates:
    """The update controller of one moto SageMaker backend (reset with the backend)."""
    return _updates(sagemaker_backends[account_id][region])


def start_baking(region: str, endpoint_name: str, since: datetime, account_id: str = DEFAULT_ACCOUNT_ID) -> None:
    """The in-flight update's new fleet has its traffic on: its variants report Baking since `since`."""
    endpoint = _endpoint(sagemaker_backends[account_id][region], endpoint_name)
    for variant in endpoint.pending_deployment_summary["ProductionVariants"]:
        variant["VariantStatus"] = [{"Status": "Baking", "StartTime": since}]


def queue_invocation_results(region: str, *bodies: str, account_id: str = DEFAULT_ACCOUNT_ID) -> None:
    """What the next InvokeEndpoint calls answer (moto answers the same request the same way afterwards)."""
    backend = sagemakerruntime_backends[account_id][region]
    backend.results_queue.extend((body, "text/csv", "AllTraffic", "") for body in bodies)


def _updates(backend: SageMakerModelBackend) -> EndpointUpdates:
    return backend.__dict__.setdefault(_STATE_ATTRIBUTE, EndpointUpdates())


def _endpoint(backend: SageMakerModelBackend, name: str) -> FakeEndpoint:
    endpoint = backend.endpoints.get(name)
    if endpoint is None:
        raise ValidationError(
            f"Could not find endpoint '{FakeEndpoint.arn_formatter(name, backend.account_id, backend.region_name)}'."
        )
    return endpoint


def _config(backend: SageMakerModelBackend, name: str) -> FakeEndpointConfig:
    config = backend.endpoint_configs.get(name)
    if config is None:
        arn = FakeEndpointConfig.arn_formatter(name, backend.account_id, backend.region_name)
        raise ValidationError(f"Could not find endpoint configuration '{arn}'.")
    return config


def _variant_names(config: FakeEndpointConfig) -> set[str]:
    return {variant["VariantName"] for variant in config.production_variants}


def update_endpoint(
    self: SageMakerModelBackend,
    endpoint_name: str,
    endpoint_config_name: str,
    deployment_config: dict[str, Any] | None,
    retain_all_variant_properties: bool | None = None,
    exclude_retained_variant_properties: list[dict[str, str]] | None = None,
) -> str:
    endpoint = _endpoint(self, endpoint_name)
    if endpoint.endpoint_status not in ("InService", "UpdateRollbackFailed"):
        raise ValidationError(f'Cannot update in-progress endpoint "{endpoint.arn}".')
    new_config = _config(self, endpoint_config_name)
    if deployment_config and _variant_names(new_config) != _variant_names(_config(self, endpoint.endpoint_config_name)):
        raise ValidationError(
            "A deployment with a DeploymentConfig requires the new endpoint configuration to keep the variant names "
            f"of {endpoint.endpoint_config_name}."
        )
    updates = _updates(self)
    request = {"EndpointName": endpoint_name, "EndpointConfigName": endpoint_config_name}
    if deployment_config:
        request["DeploymentConfig"] = deployment_config
    excluded = {item["VariantPropertyType"] for item in exclude_retained_variant_properties or []}
    if retain_all_variant_properties:
        request["RetainAllVariantProperties"] = True
        if exclude_retained_variant_properties:
            request["ExcludeRetainedVariantProperties"] = exclude_retained_variant_properties
    retained = (
        {variant["VariantName"]: variant["CurrentInstanceCount"] for variant in endpoint.production_variants}
        if retain_all_variant_properties and "DesiredInstanceCount" not in excluded
        else {}
    )
    updates.requests.append(request)
    queued = updates.plans[endpoint_name]
    plan = queued.popleft() if queued else PlannedUpdate()
    updates.in_flight[endpoint_name] = _InFlight(endpoint_config_name, deployment_config, plan, plan.polls, retained)
    endpoint.endpoint_status = "Updating"
    endpoint.failure_reason = None
    endpoint.last_modified_time = updates.clock()
    endpoint.pending_deployment_summary = {
        "EndpointConfigName": endpoint_config_name,
        "StartTime": endpoint.last_modified_time,
        "ProductionVariants": [
            {"VariantName": variant["VariantName"], "VariantStatus": [{"Status": "Creating"}]}
            for variant in new_config.production_variants
        ],
    }
    return endpoint.arn


def _serve(endpoint: FakeEndpoint, config: FakeEndpointConfig) -> None:
    endpoint.endpoint_config_name = config.endpoint_config_name
    endpoint.production_variants = endpoint._process_production_variants(config.production_variants)
    shadows = getattr(config, "shadow_production_variants", None)
    endpoint.shadow_production_variants = endpoint._process_production_variants(shadows) if shadows else None
    endpoint.data_capture_config = config.data_capture_config


def _advance(backend: SageMakerModelBackend, endpoint: FakeEndpoint) -> None:
    updates = _updates(backend)
    flight = updates.in_flight.get(endpoint.endpoint_name)
    if flight is None:
        return
    flight.polls_left -= 1
    if flight.polls_left > 0:
        return
    del updates.in_flight[endpoint.endpoint_name]
    endpoint.pending_deployment_summary = None
    endpoint.last_modified_time = updates.clock()
    if flight.plan.outcome == "succeed":
        _serve(endpoint, _config(backend, flight.config_name))
        for variant in endpoint.production_variants:
            if variant["VariantName"] in flight.retained_counts:
                count = flight.retained_counts[variant["VariantName"]]
                variant["CurrentInstanceCount"] = variant["DesiredInstanceCount"] = count
        endpoint.last_deployment_config = flight.deployment_config
        endpoint.endpoint_status = "InService"
    elif flight.plan.outcome == "rollback":
        endpoint.endpoint_status = "InService"
        endpoint.failure_reason = (
            flight.plan.reason or "Deployment rolled back: an auto-rollback alarm went into ALARM."
        )
    else:
        endpoint.endpoint_status = "UpdateRollbackFailed"
        endpoint.failure_reason = flight.plan.reason or "Deployment failed and the rollback failed."


def _patched_describe_endpoint(original: Any) -> Any:
    def describe_endpoint(self: SageMakerModelBackend, endpoint_name: str) -> dict[str, Any]:
        endpoint = self.endpoints.get(endpoint_name)
        if endpoint is not None:
            _advance(self, endpoint)
        return original(self, endpoint_name)

    return describe_endpoint


def _patched_create_endpoint(original: Any) -> Any:
    def create_endpoint(self: SageMakerModelBackend, endpoint_name: str, endpoint_config_name: str, tags: Any) -> Any:
        endpoint = original(self, endpoint_name, endpoint_config_name, tags)
        _serve(endpoint, _config(self, endpoint_config_name))
        return endpoint

    return create_endpoint


def update_endpoint_weights_and_capacities(
    self: SageMakerModelBackend, endpoint_name: str, desired_weights_and_capacities: list[dict[str, Any]]
) -> str:
    endpoint = _endpoint(self, endpoint_name)
    variants = {variant["VariantName"]: variant for variant in endpoint.production_variants}
    unknown = [d["VariantName"] for d in desired_weights_and_capacities if d["VariantName"] not in variants]
    if unknown:
        raise ValidationError(
            f'The variant name(s) "{", ".join(unknown)}" is/are not present within endpoint configuration.'
        )
    for desired in desired_weights_and_capacities:
        variant = variants[desired["VariantName"]]
        if "DesiredWeight" in desired:
            variant["CurrentWeight"] = variant["DesiredWeight"] = desired["DesiredWeight"]
        if "DesiredInstanceCount" in desired:
            variant["CurrentInstanceCount"] = variant["DesiredInstanceCount"] = desired["DesiredInstanceCount"]
    endpoint.last_modified_time = _updates(self).clock()
    return endpoint.arn


def add_tags(self: SageMakerModelBackend, arn: str, tags: list[dict[str, str]]) -> list[dict[str, str]]:
    resource = self._get_resource_from_arn(arn)
    replaced = {tag["Key"] for tag in tags}
    resource.tags = [tag for tag in resource.tags if tag["Key"] not in replaced] + list(tags)
    return resource.tags


def _patched_resource_from_arn(original: Any) -> Any:
    def _get_resource_from_arn(self: SageMakerModelBackend, arn: str) -> Any:
        if ":model-package/" not in arn:
            return original(self, arn)
        if arn.rsplit("/", 1)[-1].isdigit():
            raise ValidationError(
                message="Tags are not supported in Model Package versions. Please add them to the Model Package Group"
            )
        package = self.model_packages.get(self.model_package_name_mapping.get(arn, arn))
        if package is None:
            raise ValidationError(message=f"Could not find model package {arn}")
        package.tags = package.tags or []
        return package

    return _get_resource_from_arn


def _patched_update_model_package(original: Any) -> Any:
    def update_model_package(self: SageMakerModelBackend, model_package_arn: str, **kwargs: Any) -> str:
        package = self.model_packages.get(self.model_package_name_mapping.get(model_package_arn, model_package_arn))
        existing = (package.customer_metadata_properties if package else None) or {}
        kwargs["customer_metadata_properties"] = {**existing, **(kwargs.get("customer_metadata_properties") or {})}
        return original(self, model_package_arn=model_package_arn, **kwargs)

    return update_model_package


class EndpointNotFound(ServiceException):
    code = "ValidationError"


def _patched_invoke_endpoint(original: Any) -> Any:
    def invoke_endpoint(self: SageMakerRuntimeResponse) -> Any:
        # moto's parameter parsing misses the name in the URI (/endpoints/<name>/invocations).
        endpoint_name = urllib.parse.unquote(self.path.split("/")[2])
        if endpoint_name not in sagemaker_backends[self.current_account][self.region].endpoints:
            raise EndpointNotFound(f"Endpoint {endpoint_name} of account {self.current_account} not found.")
        return original(self)

    return invoke_endpoint


def _response_update_endpoint(self: SageMakerResponse) -> ActionResult:
    arn = self.sagemaker_backend.update_endpoint(
        endpoint_name=self._get_param("EndpointName"),
        endpoint_config_name=self._get_param("EndpointConfigName"),
        deployment_config=self._get_param("DeploymentConfig"),
        retain_all_variant_properties=self._get_param("RetainAllVariantProperties"),
        exclude_retained_variant_properties=self._get_param("ExcludeRetainedVariantProperties"),
    )
    return ActionResult({"EndpointArn": arn})


def _patched_response_create_endpoint_config(original: Any) -> Any:
    def create_endpoint_config(self: SageMakerResponse) -> ActionResult:
        result = original(self)
        shadows = self._get_param("ShadowProductionVariants")
        if shadows:
            config = self.sagemaker_backend.endpoint_configs[self._get_param("EndpointConfigName")]
            config.shadow_production_variants = shadows
        return result

    return create_endpoint_config


@contextmanager
def sagemaker_extensions() -> Iterator[None]:
    """Patch moto for the duration of the block; nested uses share the outermost patch."""
    global _active_depth
    with ExitStack() as stack:
        if _active_depth == 0:
            for owner, name, replacement in _replacements():
                stack.enter_context(patch.object(owner, name, replacement, create=True))
        _active_depth += 1
        try:
            yield
        finally:
            _active_depth -= 1


def _percentiles_only_where_computable(original: Any) -> Any:
    """CloudWatch computes no percentile from statistic sets and returns no datapoint for it; moto returns None
    values, which it then fails to serialize. Dropping them gives what the real service returns."""

    def get_metric_data(self: Any, *args: Any, **kwargs: Any) -> Any:
        results = original(self, *args, **kwargs)
        for result in results:
            pairs = [(t, v) for t, v in zip(result["timestamps"], result["values"], strict=True) if v is not None]
            result["timestamps"], result["values"] = [t for t, _ in pairs], [v for _, v in pairs]
        return results

    return get_metric_data


def _replacements() -> list[tuple[type, str, Any]]:
    backend, runtime, response = SageMakerModelBackend, SageMakerRuntimeResponse, SageMakerResponse
    return [
        (CloudWatchBackend, "get_metric_data", _percentiles_only_where_computable(CloudWatchBackend.get_metric_data)),
        (backend, "update_endpoint", update_endpoint),
        (backend, "describe_endpoint", _patched_describe_endpoint(backend.describe_endpoint)),
        (backend, "create_endpoint", _patched_create_endpoint(backend.create_endpoint)),
        (backend, "update_endpoint_weights_and_capacities", update_endpoint_weights_and_capacities),
        (backend, "add_tags", add_tags),
        (backend, "_get_resource_from_arn", _patched_resource_from_arn(backend._get_resource_from_arn)),
        (backend, "update_model_package", _patched_update_model_package(backend.update_model_package)),
        (runtime, "invoke_endpoint", _patched_invoke_endpoint(runtime.invoke_endpoint)),
        (response, "update_endpoint", _response_update_endpoint),
        (response, "create_endpoint_config", _patched_response_create_endpoint_config(response.create_endpoint_config)),
    ]
