"""One acceptance run: cost estimate, deploy the scratch stacks, a guarded release and a forced rollback with the
platform's own deploy, the assertions, the findings (printed and recorded), and the teardown, whatever happens.

Everything that touches AWS goes through `client` (an operator's boto3 session) and `cdk` (the CDK CLI), so the same
sequence runs offline against moto with a `cdk` that deploys nothing (tests/unit/acceptance).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from acceptance.checks import run_checks
from acceptance.evidence import RecordingSageMaker, ReleaseEvidence, RoleProbe, RunEvidence, VerdictSilence
from acceptance.scratch import ScratchPlan
from safedeploy import registry
from safedeploy.build_steps import train_and_register
from safedeploy.build_steps.model_plugin import ModelPlugin
from safedeploy.build_steps.settings import COMMIT_VARIABLE, ReleaseSettings
from safedeploy.canary.outputs import VERDICT_METRIC, publish_metrics
from safedeploy.cli.aws_errors import one_line
from safedeploy.guardrails.deploy import deploy_package
from safedeploy.guardrails.deploy_target import DeployTarget, read_optional_parameter, read_parameter
from safedeploy.guardrails.endpoint_status import EndpointWaiter, describe_endpoint
from safedeploy.guardrails.errors import GuardrailError
from safedeploy.guardrails.release_names import PRODUCTION_VARIANT
from safedeploy.naming import Function, Naming
from safedeploy.operations import cost
from safedeploy.operations.acceptance_results import Finding, Results, findings_report, write_results
from safedeploy.operations.teardown import Teardown
from safedeploy.parameters import Param
from safedeploy.serving_contract import ServingContract

Progress = Callable[[str], None]
Cdk = Callable[[Sequence[str]], None]
POLL_SECONDS = 15.0
# CloudWatch lists a new metric only after some minutes; the checks wait this long after the last release.
METRICS_SETTLE = timedelta(minutes=5)
# How long the suite waits, with its canary analysis stopped, for the CanaryVerdict alarm to fire.
SILENCE_LIMIT = timedelta(minutes=12)
SILENCE_POLL = timedelta(seconds=15)
REQUEST_INTERVAL_SECONDS = 1.0
# Run-time figures for the estimate (docs/acceptance.md shows where they come from).
EXPECTED_HOURS = 1.7
PEAK_INSTANCES = 6  # three blue plus three green during the healthy release
ALWAYS_ON = ("Lambda", "CloudWatch alarms", "KMS key")  # the estimate's lines the deployed stacks incur
# The principals whose roles read the environment's buckets at run time.
RUNTIME_SERVICES = ("lambda.amazonaws.com", "codebuild.amazonaws.com", "sagemaker.amazonaws.com")
PROBE_PREFIXES = ("approvals", "decisions")
TRAINING_ROWS = 1000  # the example model trains in seconds; its quality does not matter here


def cost_before(plan: ScratchPlan) -> str:
    """What the run costs, from the same price table and estimate as `safedeploy cost`."""
    estimate = cost.estimate(plan.env, plan.raw, cost.PriceTable.load(plan.region))
    prices = estimate.table["sagemaker_instance_hour"]
    instance_type = plan.raw["endpoint"]["instance_type"]
    hours = float(estimate.table["hours_per_month"])
    endpoint = PEAK_INSTANCES * EXPECTED_HOURS * prices[instance_type]
    others = sum(line.monthly for line in estimate.lines if line.item.startswith(ALWAYS_ON)) / hours * EXPECTED_HOURS
    return "\n".join(
        [
            f"acceptance {plan.env} (a copy of {plan.base}) in {plan.region}: about {endpoint + others:.2f} "
            f"{estimate.table.currency} for a run of about {EXPECTED_HOURS:g} h",
            f"  SageMaker {instance_type}: at most {PEAK_INSTANCES} instances x {EXPECTED_HOURS:g} h x "
            f"{prices[instance_type]} = {endpoint:.2f}",
            f"  Lambda, alarms and KMS key for {EXPECTED_HOURS:g} h: {others:.2f}",
            f"  prices: {estimate.table.region}, as of {estimate.table.as_of}; not included: CodeBuild (the pipeline "
            "is deployed, not run), S3 requests, the one-day locked objects' storage",
        ]
    )


@dataclass
class Traffic:
    """Requests to the endpoint from a background thread, so that both fleets have metrics to list."""

    runtime: Any
    endpoint_name: str
    contract: ServingContract  # each request is the model's health-check row
    interval: float = REQUEST_INTERVAL_SECONDS
    sent: int = 0
    failed: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.runtime.invoke_endpoint(
                    EndpointName=self.endpoint_name,
                    ContentType=self.contract.content_type,
                    Body=self.contract.health_check_body(),
                )
                self.sent += 1
            except (BotoCoreError, ClientError):
                self.failed += 1

    @contextmanager
    def running(self) -> Iterator[Traffic]:
        thread = threading.Thread(target=self._loop, name="acceptance-traffic", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join(timeout=30)


class RoleAccess(Protocol):
    """Role ARN -> an S3 client with that role's credentials; `restore` undoes what made the roles assumable."""

    def __call__(self, arn: str) -> Any: ...

    def restore(self) -> None: ...


@dataclass
class AcceptanceRun:
    plan: ScratchPlan
    client: Callable[[str], Any]
    cdk: Cdk
    model: ModelPlugin
    work_dir: Path
    progress: Progress = print
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    poll_seconds: float = POLL_SECONDS
    metrics_settle: timedelta = METRICS_SETTLE
    assume_role: RoleAccess | None = None
    packages: list[str] = field(default_factory=list)

    # --- the whole run -----------------------------------------------------------------------------------------

    def run(self) -> list[Finding]:
        self.progress(cost_before(self.plan))
        try:
            self.progress(f"[1/6] deploying {', '.join(self.plan.stack_ids())}")
            self.cdk(["deploy", *self.plan.stack_ids(), "--require-approval", "never"])
            evidence = self._exercise()
            self.progress("[5/6] assertions")
            findings = run_checks(evidence)
            results = Results(self.plan.env, self.clock().strftime("%Y-%m-%dT%H:%M:%SZ"), self.plan.region, findings)
            where = write_results(self.client("ssm"), self.plan.project, results)
            self.progress(f"findings (recorded in {where}; `safedeploy doctor` shows them):")
            self.progress(findings_report(findings))
            return findings
        finally:
            self.progress("[6/6] teardown")
            if self.assume_role is not None:
                self.assume_role.restore()
            self.teardown()

    def _exercise(self) -> RunEvidence:
        project, env = self.plan.project, self.plan.env
        ssm = self.client("ssm")
        target = DeployTarget.load(ssm, project, env, s3=self.client("s3"))
        self.progress("[2/6] training and registering three packages (approved by you, the operator)")
        first, healthy, harmful = (self._register(index) for index in range(3))
        recorder = RecordingSageMaker(self.client("sagemaker"), clock=self.clock)
        waiter = EndpointWaiter(recorder, poll_seconds=self.poll_seconds, progress=self.progress, sleep=self.sleep)
        aas = self.client("application-autoscaling")
        self.progress(f"[3/6] creating {target.endpoint_name} with {first}")
        deploy_package(recorder, first, target, waiter, aas)
        contract = ServingContract.from_json(read_parameter(ssm, project, env, Param.SERVING_CONTRACT))
        traffic = Traffic(self.client("sagemaker-runtime"), target.endpoint_name, contract)
        with traffic.running():
            scaled = self._scale_out(recorder, waiter, target)
            self.progress(f"[4/6] guarded release of {healthy}, then a forced rollback of {harmful}")
            good = self._release(recorder, waiter, target, healthy, aas, instance_count_before=scaled.instance_count)
            forcing = _ForcedRollback(self.client("cloudwatch"), recorder, target.endpoint_name, self.clock)
            waiter.sleep = forcing.then(self.sleep)
            bad = self._release(recorder, waiter, target, harmful, aas)
            waiter.sleep = self.sleep
            self.progress(f"waiting {self.metrics_settle} for CloudWatch to list the fleets' metrics")
            self.sleep(self.metrics_settle.total_seconds())
            silence = self._silence_verdicts(target)
        self.progress(f"traffic: {traffic.sent} requests, {traffic.failed} failed")
        return RunEvidence(
            project=project,
            env=env,
            endpoint_name=target.endpoint_name,
            settings=target.guardrails.settings,
            client=self.client,
            healthy=good,
            harmful=bad,
            locked_bucket=self._locked_bucket(),
            pipeline_name=read_parameter(ssm, project, env, Param.PIPELINE_NAME),
            role_probes=tuple(self._role_probes()),
            weights_modified=scaled.modified,
            verdict_silence=silence,
        )

    # --- steps ---------------------------------------------------------------------------------------------------

    def _register(self, index: int) -> str:
        environ = {
            "PROJECT": self.plan.project,
            "ENV": self.plan.env,
            COMMIT_VARIABLE: f"acceptance-{index}",
            "CODEBUILD_BUILD_NUMBER": f"acceptance-{uuid.uuid4().hex[:8]}-{index}",
            "TRAINING_ROWS": str(TRAINING_ROWS),
        }
        settings = ReleaseSettings.from_environment(environ, self.client("ssm"), region=self.plan.region)
        result = train_and_register.run(settings, self.client, self.work_dir / str(index), self.model, self.progress)
        registry.set_approval(
            self.client("sagemaker"), result.package_arn, "Approved", "acceptance suite: approved by its operator"
        )
        self.packages.append(result.package_arn)
        return result.package_arn

    def _scale_out(self, sm: Any, waiter: EndpointWaiter, target: DeployTarget) -> _ScaledOut:
        """One instance more than configured, as autoscaling would after a peak: does the release keep it? And does
        a weight step (UpdateEndpointWeightsAndCapacities) move LastModifiedTime?"""
        before = describe_endpoint(sm, target.endpoint_name)
        count = target.guardrails.settings.instance_count + 1
        sm.update_endpoint_weights_and_capacities(
            EndpointName=target.endpoint_name,
            DesiredWeightsAndCapacities=[{"VariantName": PRODUCTION_VARIANT, "DesiredInstanceCount": count}],
        )
        settled = waiter.until_settled(target.endpoint_name)
        variants = settled.variants if settled else ()
        return _ScaledOut(
            instance_count=variants[0].current_instance_count if variants else None,
            modified=(before.last_modified_at if before else None, settled.last_modified_at if settled else None),
        )

    def _release(
        self,
        sm: RecordingSageMaker,
        waiter: EndpointWaiter,
        target: DeployTarget,
        package: str,
        aas: Any,
        instance_count_before: int | None = None,
    ) -> ReleaseEvidence:
        before = describe_endpoint(sm, target.endpoint_name)
        blue = before.config_name if before else ""
        started, first_entry = self.clock(), len(sm.entries)
        error = None
        try:
            result = deploy_package(sm, package, target, waiter, aas)
            green = result.endpoint_config_name
        except GuardrailError as failure:
            error = str(failure)
            green = next(
                (e.description["PendingDeploymentSummary"]["EndpointConfigName"] for e in sm.entries[first_entry:]
                 if "PendingDeploymentSummary" in e.description),
                "",
            )  # fmt: skip
        after = describe_endpoint(sm, target.endpoint_name)
        live = after.config_name if after else "nothing"
        self.progress(f"release of {package}: {'failed: ' + error if error else 'live'}; {live} serves")
        return ReleaseEvidence(
            package_arn=package,
            blue_config=blue,
            green_config=green,
            started_at=started,
            ended_at=self.clock(),
            timeline=tuple(sm.entries[first_entry:]),
            rolled_back=bool(error) and after is not None and after.config_name == blue,
            error=error,
            instance_count_before=instance_count_before,
        )

    def _silence_verdicts(self, target: DeployTarget) -> VerdictSilence | None:
        """Stop the canary analysis (its schedule rule disabled, enabled again afterwards) and time how long the
        CanaryVerdict alarm takes to fire: what a deployment whose analysis stops would wait for its rollback."""
        function = Naming(self.plan.project, self.plan.env).function(Function.CANARY_ANALYSIS)
        arn = self.client("lambda").get_function_configuration(FunctionName=function)["FunctionArn"]
        events, cloudwatch = self.client("events"), self.client("cloudwatch")
        rules = events.list_rule_names_by_target(TargetArn=arn).get("RuleNames", [])
        alarm = _verdict_alarm(cloudwatch, target.guardrails.alarm_names)
        if not rules or alarm is None:
            self.progress(f"cannot stop the canary analysis: rules {rules}, verdict alarm {alarm}")
            return None
        self.progress(f"stopping {function} ({', '.join(rules)}) until {alarm} fires, at most {SILENCE_LIMIT}")
        silenced_at, waited = self.clock(), timedelta(0)
        try:
            for rule in rules:
                events.disable_rule(Name=rule)
            while waited <= SILENCE_LIMIT:
                state = cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["StateValue"]
                if state == "ALARM":
                    return VerdictSilence(silenced_at, silenced_at + waited, waited)
                self.sleep(SILENCE_POLL.total_seconds())
                waited += SILENCE_POLL
            return VerdictSilence(silenced_at, None, waited)
        finally:
            for rule in rules:
                events.enable_rule(Name=rule)

    def _locked_bucket(self) -> str | None:
        """The environment's bucket with Object Lock default retention, whichever of its published buckets it is."""
        ssm, s3 = self.client("ssm"), self.client("s3")
        for key in (param for param in Param if param.value.endswith("-bucket")):
            bucket = read_optional_parameter(ssm, self.plan.project, self.plan.env, key)
            if bucket is None:
                continue
            try:
                configuration = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") == "ObjectLockConfigurationNotFoundError":
                    continue
                raise
            if configuration.get("Rule"):  # default retention: what locks every write
                return bucket
        return None

    def _runtime_roles(self) -> list[str]:
        """ARNs of the roles that AWS services assume in the scratch stacks (Lambda, CodeBuild, SageMaker)."""
        cloudformation, iam = self.client("cloudformation"), self.client("iam")
        names = [
            resource["PhysicalResourceId"]
            for stack in Teardown(self.client, self.plan.project, self.plan.env).stack_names()
            if _stack_exists(cloudformation, stack)
            for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack)
            for resource in page["StackResourceSummaries"]
            if resource["ResourceType"] == "AWS::IAM::Role"
        ]
        roles = [iam.get_role(RoleName=name)["Role"] for name in names]
        return [role["Arn"] for role in roles if _trusts(role, RUNTIME_SERVICES)]

    def _role_probes(self) -> Iterator[RoleProbe]:
        if self.assume_role is None:
            return
        bucket = read_parameter(self.client("ssm"), self.plan.project, self.plan.env, Param.ARTIFACTS_BUCKET)
        missing = f"acceptance-missing-{uuid.uuid4().hex}.json"
        for arn in self._runtime_roles():
            try:
                s3 = self.assume_role(arn)
            except (BotoCoreError, ClientError) as error:
                self.progress(f"cannot act as {arn}: {one_line(error)}")
                continue
            for prefix in PROBE_PREFIXES:
                yield RoleProbe(f"{arn.rsplit('/', 1)[-1]}:{prefix}/", s3, bucket, f"{prefix}/{missing}")

    def teardown(self) -> None:
        """Packages first (the group is the storage stack's and must be empty), then `safedeploy teardown`'s steps."""
        sm = self.client("sagemaker")
        for arn in self.packages:
            try:
                sm.delete_model_package(ModelPackageName=arn)
            except (BotoCoreError, ClientError) as error:
                self.progress(f"could not delete {arn}: {one_line(error)} (delete it by hand, docs/acceptance.md)")
        teardown = Teardown(self.client, self.plan.project, self.plan.env, progress=self.progress, sleep=self.sleep)
        try:
            self.progress(teardown.run().summary())
        except (RuntimeError, BotoCoreError, ClientError) as error:
            # The storage stack's deletion fails while Object Lock keeps the day's writes: see the manual teardown.
            detail = one_line(error) if isinstance(error, BotoCoreError | ClientError) else str(error)
            self.progress(f"teardown incomplete: {detail}; finish it as docs/acceptance.md says (manual teardown)")


@dataclass(frozen=True)
class _ScaledOut:
    instance_count: int | None
    modified: tuple[datetime | None, datetime | None]


@dataclass
class _ForcedRollback:
    """While the new fleet bakes, a ROLLBACK verdict (1) is published at every poll through the canary analysis's own
    publisher: the CanaryVerdict alarm breaches as CloudWatch evaluates it (M of N minutes) and SageMaker rolls back."""

    cloudwatch: Any
    recorder: RecordingSageMaker
    endpoint_name: str
    clock: Callable[[], datetime]
    published: int = 0

    def then(self, sleep: Callable[[float], None]) -> Callable[[float], None]:
        def publish_then_sleep(seconds: float) -> None:
            latest = self.recorder.entries[-1].description if self.recorder.entries else {}
            statuses = [
                status["Status"]
                for variant in latest.get("PendingDeploymentSummary", {}).get("ProductionVariants", [])
                for status in variant.get("VariantStatus", [])
            ]
            if "Baking" in statuses:
                publish_metrics(self.cloudwatch, self.endpoint_name, self.clock(), 1, {})
                self.published += 1
            sleep(seconds)

        return publish_then_sleep


def _verdict_alarm(cloudwatch: Any, names: Sequence[str]) -> str | None:
    """The rollback alarm that watches CanaryVerdict (directly or in metric math such as FILL)."""
    for alarm in cloudwatch.describe_alarms(AlarmNames=list(names)).get("MetricAlarms", []):
        metrics = [alarm.get("MetricName")] + [
            query.get("MetricStat", {}).get("Metric", {}).get("MetricName") for query in alarm.get("Metrics", [])
        ]
        if VERDICT_METRIC in metrics:
            return str(alarm["AlarmName"])
    return None


def _stack_exists(cloudformation: Any, name: str) -> bool:
    try:
        cloudformation.describe_stacks(StackName=name)
    except ClientError:
        return False
    return True


def _trusts(role: dict[str, Any], services: Sequence[str]) -> bool:
    statements = role.get("AssumeRolePolicyDocument", {}).get("Statement", [])
    principals = [statement.get("Principal", {}).get("Service", []) for statement in statements]
    named = {
        service for principal in principals for service in ([principal] if isinstance(principal, str) else principal)
    }
    return bool(named & set(services))
