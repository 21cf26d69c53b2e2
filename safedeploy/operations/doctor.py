"""`safedeploy doctor`: read-only checks, in the account, of what the documentation cannot settle and moto cannot
show. Each check reads a few APIs and says one line: PASS, FAIL (with what to do) or SKIP (with why not yet).

None of them changes anything, so doctor is safe to run in prod at any time, including during a deployment.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError

from safedeploy.canary.metric_names import CONFIG_DIMENSION, ENDPOINT_DIMENSION
from safedeploy.canary.metrics import FLEET_SERIES
from safedeploy.guardrails.deploy_target import read_parameter
from safedeploy.guardrails.settings import GuardrailParameter
from safedeploy.lambda_runtime import LAMBDA_RUNTIME
from safedeploy.naming import DRIFT_ALARM, DRIFT_SCHEDULE, QUALITY_ALARM, Function, Naming
from safedeploy.operations.acceptance_results import Behaviour, Outcome, read_results, results_parameter
from safedeploy.parameters import Param
from safedeploy.s3_layout import HOUR_FORMAT, drift_record_prefix, histograms_root
from safedeploy.source_record import SourceRecord

DEFAULT_QUALIFIER = "hnb659fds"
# The highest `requiresBootstrapStackVersion` in this app's synthesized manifests (asset publishing and lookups).
MIN_BOOTSTRAP_VERSION = 8
LAMBDA_WINDOW = timedelta(minutes=15)
# ListMetrics returns metrics that received data in the past two weeks.
LIST_METRICS_WINDOW = timedelta(days=14)
FLEET_METRICS = tuple(metric.name for metric in FLEET_SERIES)
# The drift stack's alarms.
DRIFT_ALARMS = (DRIFT_ALARM, QUALITY_ALARM)
# Histograms and decision records older than this mean the gateway or the drift check has stopped.
DRIFT_FRESHNESS = timedelta(hours=3)


class Status(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    SKIP = "SKIP"


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    detail: str

    def line(self) -> str:
        return f"{self.status.value} {self.name}: {self.detail}"


@dataclass(frozen=True)
class DoctorScope:
    """What the checks read: clients by service name, the environment, and the clock (for the metric windows)."""

    client: Callable[[str], Any]
    project: str
    env: str
    now: datetime
    qualifier: str = DEFAULT_QUALIFIER

    @property
    def naming(self) -> Naming:
        return Naming(self.project, self.env)

    def parameter(self, key: Param) -> str:
        return read_parameter(self.client("ssm"), self.project, self.env, key)

    def guardrails(self) -> GuardrailParameter:
        path = self.naming.parameter(Param.DEPLOYMENT_CONFIG)
        return GuardrailParameter.from_json(self.parameter(Param.DEPLOYMENT_CONFIG), path=path)


Check = Callable[[DoctorScope], tuple[Status, str]]


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def check_bootstrap(scope: DoctorScope) -> tuple[Status, str]:
    name = f"/cdk-bootstrap/{scope.qualifier}/version"
    try:
        version = int(scope.client("ssm").get_parameter(Name=name)["Parameter"]["Value"])
    except ClientError as error:
        if _code(error) != "ParameterNotFound":
            raise
        return Status.FAIL, f"no CDK bootstrap here ({name} is missing): run `npx cdk bootstrap` in this account/region"
    if version < MIN_BOOTSTRAP_VERSION:
        return Status.FAIL, f"CDK bootstrap version {version} < {MIN_BOOTSTRAP_VERSION}: run `npx cdk bootstrap` again"
    return Status.PASS, f"CDK bootstrap version {version} ({name})"


def check_alarms(scope: DoctorScope) -> tuple[Status, str]:
    names = list(scope.guardrails().alarm_names)
    found = {
        alarm["AlarmName"]
        for page in scope.client("cloudwatch").get_paginator("describe_alarms").paginate(AlarmNames=names)
        for alarm in page.get("MetricAlarms", []) + page.get("CompositeAlarms", [])
    }
    missing = [name for name in names if name not in found]
    if missing:
        return Status.FAIL, (
            f"rollback alarms in the deployment config do not exist: {', '.join(missing)} (SageMaker could not watch "
            "them): deploy the guardrails stack"
        )
    return Status.PASS, f"{len(names)} rollback alarms exist: {', '.join(names)}"


def _lambda_sum(scope: DoctorScope, function_name: str, metric_name: str, window: timedelta = LAMBDA_WINDOW) -> float:
    end = scope.now.astimezone(UTC).replace(second=0, microsecond=0)
    query = {
        "Id": "m",
        "MetricStat": {
            "Metric": {
                "Namespace": "AWS/Lambda",
                "MetricName": metric_name,
                "Dimensions": [{"Name": "FunctionName", "Value": function_name}],
            },
            "Period": 60,
            "Stat": "Sum",
        },
    }
    result = scope.client("cloudwatch").get_metric_data(MetricDataQueries=[query], StartTime=end - window, EndTime=end)
    return float(sum(value for series in result["MetricDataResults"] for value in series.get("Values", [])))


def check_canary_lambda(scope: DoctorScope) -> tuple[Status, str]:
    name = scope.naming.function(Function.CANARY_ANALYSIS)
    config = scope.client("lambda").get_function_configuration(FunctionName=name)
    runtime = str(config.get("Runtime", ""))
    if runtime != LAMBDA_RUNTIME:
        return Status.FAIL, (
            f"{name} runs on {runtime or 'no managed runtime'}: the layer is built for {LAMBDA_RUNTIME} only "
            "(cp313 wheels, glibc 2.34 of Amazon Linux 2023); redeploy the guardrails stack"
        )
    if config.get("State", "Active") != "Active" or config.get("LastUpdateStatus", "Successful") == "Failed":
        return Status.FAIL, f"{name} is {config.get('State')} (last update {config.get('LastUpdateStatus')})"
    invocations = _lambda_sum(scope, name, "Invocations")
    errors = _lambda_sum(scope, name, "Errors")
    minutes = int(LAMBDA_WINDOW.total_seconds() // 60)
    if invocations == 0:
        return Status.FAIL, (
            f"{name} ({runtime}) was not invoked in the last {minutes} minutes: its every-minute schedule should run "
            "it; check the EventBridge rule"
        )
    if errors:
        return Status.FAIL, (
            f"{name} ({runtime}): {errors:.0f} errors in {invocations:.0f} invocations in the last {minutes} minutes; "
            f"read /aws/lambda/{name}"
        )
    return Status.PASS, f"{name} on {runtime}: {invocations:.0f} invocations, no errors in the last {minutes} minutes"


def _deployed_by_update(sm: Any, endpoint: dict[str, Any]) -> bool:
    """A config created after the endpoint can only have been attached by UpdateEndpoint, i.e. a deployment."""
    config = sm.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    return config["CreationTime"] > endpoint["CreationTime"]


def missing_fleet_series(cloudwatch: Any, endpoint_name: str, config_name: str) -> list[str]:
    """Which of `FLEET_METRICS` ListMetrics shows no series for, per fleet (`EndpointConfigName`)."""
    dimensions = [
        {"Name": ENDPOINT_DIMENSION, "Value": endpoint_name},
        {"Name": CONFIG_DIMENSION, "Value": config_name},
    ]
    return [
        metric.name
        for metric in FLEET_SERIES
        if not cloudwatch.list_metrics(Namespace=metric.namespace, MetricName=metric.name, Dimensions=dimensions).get(
            "Metrics"
        )
    ]


def check_fleet_metrics(scope: DoctorScope) -> tuple[Status, str]:
    settings = scope.guardrails().settings
    if not settings.strategy.guardrails:
        return Status.SKIP, f"strategy {settings.strategy.name} compares variants (VariantName), not fleets"
    endpoint_name = scope.parameter(Param.ENDPOINT_NAME)
    sm = scope.client("sagemaker")
    try:
        endpoint = sm.describe_endpoint(EndpointName=endpoint_name)
    except ClientError as error:
        if "Could not find endpoint" not in str(error):
            raise
        return Status.SKIP, f"endpoint {endpoint_name} does not exist yet: run doctor after the first deployments"
    config_name = endpoint["EndpointConfigName"]
    if not _deployed_by_update(sm, endpoint):
        return Status.SKIP, (
            f"{endpoint_name} serves {config_name}, which predates the endpoint (its first config, or a rollback to "
            "it): run doctor after a deployment"
        )
    if scope.now - endpoint["LastModifiedTime"] > LIST_METRICS_WINDOW:
        return Status.SKIP, f"{endpoint_name} last changed over 14 days ago, beyond ListMetrics' window"
    missing = missing_fleet_series(scope.client("cloudwatch"), endpoint_name, config_name)
    if missing:
        return Status.FAIL, (
            f"no per-fleet series (EndpointConfigName={config_name}) for {', '.join(missing)}: the canary analysis "
            "cannot tell the fleets apart on these metrics"
        )
    return Status.PASS, f"per-fleet series (EndpointConfigName={config_name}) for {', '.join(FLEET_METRICS)}"


def _connections_client(scope: DoctorScope, arn: str) -> Any:
    """The API's service prefix must match the ARN's: codestar-connections ARNs predate codeconnections ones."""
    return scope.client("codeconnections" if ":codeconnections:" in arn else "codestar-connections")


def check_source(scope: DoctorScope) -> tuple[Status, str]:
    record = SourceRecord.from_json(
        scope.parameter(Param.PIPELINE_SOURCE), path=scope.naming.parameter(Param.PIPELINE_SOURCE)
    )
    if record.kind == "codecommit":
        try:
            branch = scope.client("codecommit").get_branch(repositoryName=record.repository, branchName=record.branch)
        except ClientError as error:
            if _code(error) != "BranchDoesNotExistException":
                raise
            return Status.FAIL, f"CodeCommit {record.repository} has no branch {record.branch}: push to it first"
        return Status.PASS, f"CodeCommit {record.repository}@{record.branch} at {branch['branch']['commitId'][:12]}"
    arn = scope.client("ssm").get_parameter(Name=record.connection_arn_parameter)["Parameter"]["Value"]
    connection = _connections_client(scope, arn).get_connection(ConnectionArn=arn)["Connection"]
    status, provider = connection.get("ConnectionStatus"), connection.get("ProviderType")
    if status != "AVAILABLE":
        return Status.FAIL, (
            f"connection {connection.get('ConnectionName', arn)} is {status}: complete it in the console "
            "(Developer Tools > Settings > Connections > Update pending connection)"
        )
    if provider != record.provider:
        return Status.FAIL, f"connection {arn} is a {provider} connection; pipeline.source says {record.provider}"
    return Status.PASS, (
        f"{provider} connection {connection.get('ConnectionName', arn)} is AVAILABLE for {record.repository}@"
        f"{record.branch} (repository access itself is exercised by the pipeline's Source action)"
    )


def check_drift_job(scope: DoctorScope) -> tuple[Status, str]:
    """The hourly schedule exists, is enabled, targets the drift check, and the check ran without errors."""
    rule_name = scope.naming.resource(DRIFT_SCHEDULE)
    function = scope.naming.function(Function.DRIFT_CHECK)
    events = scope.client("events")
    try:
        rule = events.describe_rule(Name=rule_name)
    except ClientError as error:
        if _code(error) != "ResourceNotFoundException":
            raise
        return Status.FAIL, f"no drift schedule {rule_name}: deploy the drift stack"
    if rule.get("State") != "ENABLED":
        return Status.FAIL, f"{rule_name} is {rule.get('State')}: nothing checks drift; enable it"
    targets = events.list_targets_by_rule(Rule=rule_name).get("Targets", [])
    if not any(target["Arn"].endswith(f":function:{function}") for target in targets):
        return Status.FAIL, f"{rule_name} does not target {function}: redeploy the drift stack"
    window = DRIFT_FRESHNESS
    invocations, errors = (_lambda_sum(scope, function, metric, window) for metric in ("Invocations", "Errors"))
    hours = int(window.total_seconds() // 3600)
    if invocations == 0:
        return Status.FAIL, f"{function} was not invoked in the last {hours} h although {rule_name} is enabled"
    if errors:
        return Status.FAIL, f"{function}: {errors:.0f} errors in {invocations:.0f} runs in {hours} h; read its log"
    return (
        Status.PASS,
        f"{rule_name} ({rule.get('ScheduleExpression')}) ran {function} {invocations:.0f} times, no errors",
    )


def check_drift_alarms(scope: DoctorScope) -> tuple[Status, str]:
    names = [scope.naming.resource(alarm) for alarm in DRIFT_ALARMS]
    found = {
        alarm["AlarmName"]: alarm
        for page in scope.client("cloudwatch").get_paginator("describe_alarms").paginate(AlarmNames=names)
        for alarm in page.get("MetricAlarms", [])
    }
    missing = [name for name in names if name not in found]
    if missing:
        return Status.FAIL, f"drift alarms missing: {', '.join(missing)}: deploy the drift stack"
    states = ", ".join(f"{name} {found[name].get('StateValue')}" for name in names)
    return Status.PASS, states


def _recent_keys(scope: DoctorScope, bucket_param: Param, prefix: str, hours: Sequence[datetime]) -> int:
    """Objects under `prefix` + each hour (YYYYMMDDTHH) in the bucket `bucket_param` names, at most one per hour."""
    s3, bucket = scope.client("s3"), scope.parameter(bucket_param)
    return sum(
        s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}{hour.strftime(HOUR_FORMAT)}", MaxKeys=1).get("KeyCount", 0)
        for hour in hours
    )


def _hours_back(scope: DoctorScope) -> list[datetime]:
    now = scope.now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return [now - timedelta(hours=back) for back in range(int(DRIFT_FRESHNESS.total_seconds() // 3600) + 1)]


def check_drift_histograms(scope: DoctorScope) -> tuple[Status, str]:
    """The gateway writes per-hour histograms of live traffic; none for hours means the drift check sees nothing."""
    endpoint = scope.parameter(Param.ENDPOINT_NAME)
    try:
        scope.client("sagemaker").describe_endpoint(EndpointName=endpoint)
    except ClientError as error:
        if "Could not find endpoint" not in str(error):
            raise
        return Status.SKIP, f"endpoint {endpoint} does not exist yet: the gateway has nothing to bin"
    hours = _hours_back(scope)
    found = _recent_keys(scope, Param.DRIFT_BUCKET, histograms_root(endpoint), hours)
    if not found:
        return Status.FAIL, (
            f"no drift histograms for {endpoint} in the last {len(hours) - 1} h: no traffic through the gateway, or "
            "its log says 'drift baseline unavailable' (a package without a baseline, or a digest mismatch)"
        )
    return Status.PASS, f"histograms for {endpoint} in {found} of the last {len(hours)} hours"


def check_drift_records(scope: DoctorScope) -> tuple[Status, str]:
    """The drift check decides from the gateway's histograms alone: a recent decision record shows it works without
    Model Monitor or endpoint data capture, which this platform never configures."""
    endpoint = scope.parameter(Param.ENDPOINT_NAME)
    try:
        described = scope.client("sagemaker").describe_endpoint(EndpointName=endpoint)
    except ClientError as error:
        if "Could not find endpoint" not in str(error):
            raise
        return Status.SKIP, f"endpoint {endpoint} does not exist yet"
    capture = described.get("DataCaptureConfig", {}).get("EnableCapture")
    found = _recent_keys(scope, Param.ARTIFACTS_BUCKET, drift_record_prefix(endpoint), _hours_back(scope))
    if not found:
        return Status.FAIL, f"no drift decision record for {endpoint} in the last {DRIFT_FRESHNESS}: see drift-job"
    note = "; endpoint data capture is ON (not used by the drift check, costs S3 per request)" if capture else ""
    return Status.PASS, f"drift decisions recorded in {found} recent hours, without Model Monitor{note}"


DRIFT_CHECKS: tuple[tuple[str, Check], ...] = (
    ("drift-job", check_drift_job),
    ("drift-alarms", check_drift_alarms),
    ("drift-histograms", check_drift_histograms),
    ("drift-records", check_drift_records),
)


def acceptance_check(behaviour: Behaviour) -> Check:
    """What the last acceptance run (`make acceptance`) observed of one undocumented behaviour: PASS when AWS behaved
    as designed or the fallback holds, FAIL when neither held, SKIP when no run observed it."""

    def check(scope: DoctorScope) -> tuple[Status, str]:
        results = read_results(scope.client("ssm"), scope.project)
        if results is None:
            return Status.SKIP, (
                f"no acceptance run recorded ({results_parameter(scope.project)}): run `make acceptance ENV=<scratch>`"
            )
        finding = results.finding(behaviour)
        run = f"acceptance {results.env} {results.finished_at}"
        if finding is None:
            return Status.SKIP, f"not observed by the last run ({run})"
        status = {Outcome.FAILED: Status.FAIL, Outcome.UNSETTLED: Status.SKIP}.get(finding.outcome, Status.PASS)
        return status, f"{finding.outcome.value}: {finding.observed} ({run})"

    return check


ACCEPTANCE_CHECKS: tuple[tuple[str, Check], ...] = tuple(
    (f"acceptance-{behaviour.value}", acceptance_check(behaviour)) for behaviour in Behaviour
)

CHECKS: tuple[tuple[str, Check], ...] = (
    ("bootstrap", check_bootstrap),
    ("rollback-alarms", check_alarms),
    ("canary-lambda", check_canary_lambda),
    ("fleet-metrics", check_fleet_metrics),
    ("source", check_source),
    *DRIFT_CHECKS,
    *ACCEPTANCE_CHECKS,
)


def run_checks(
    scope: DoctorScope,
    describe_error: Callable[[Exception], str],
    checks: Sequence[tuple[str, Check]] = CHECKS,
) -> list[CheckResult]:
    """Every check, even after one fails; an AWS or configuration error fails only its own check."""
    results = []
    for name, check in checks:
        try:
            status, detail = check(scope)
        except (ClientError, ValueError) as error:
            status, detail = Status.FAIL, describe_error(error)
        results.append(CheckResult(name, status, detail))
    return results
