"""The release rehearsal: a first model goes live, a candidate as good as it is promoted, a worse one is rolled
back by the canary analysis; the good one is then promoted and deployed to prod (`rehearsal/trust_chain.py`, which
also plays the attacks). Each step calls the product's own code; the rehearsal plays the people (approvers) and the
orchestration (CodePipeline handing results between actions, SageMaker and CloudWatch acting on time).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch

import boto3
import numpy as np
from moto.core.utils import utcnow

from rehearsal import codebuild
from rehearsal.aws_simulator import (
    EVALUATION_RANGE,
    Alarm,
    SimulatedFleet,
    TrafficReplay,
    VerdictBus,
    blue_green_fleet,
    forget_simulated_future,
    minute_start,
    variant_fleet,
)
from rehearsal.pipeline_double import CodeCommitDouble, CodePipelineDouble
from rehearsal.rollout import guarded_phases, replayed_minutes, share_at
from rehearsal.world import CONFIG_FILE, ROOT, World, provision, rehearsed_chain, rehearsed_context
from safedeploy import clock
from safedeploy.build_steps.tooling import TOOLING_FILES, TOOLING_PACKAGE
from safedeploy.guardrails import resource_tags
from safedeploy.guardrails.endpoint_status import describe_endpoint
from safedeploy.guardrails.experiment import Experiment
from safedeploy.guardrails.release_names import PRODUCTION_VARIANT
from safedeploy.guardrails.settings import DeploymentSettings
from safedeploy.lambda_actions.approvals import PIPELINE_NAME_ENV
from safedeploy.lambda_actions.aws_clients import AwsClients
from safedeploy.naming import Function
from safedeploy.strategies.experiments import StepAction
from safedeploy.trust.approval_record import PACKAGE_GROUP_ENV, RECORDS_BUCKET_ENV, RECORDS_KEY_ENV
from serving.stub_endpoint import StubBehaviour, running_stub
from stacks.guardrails_stack import ERROR_RATE_ALARM, LATENCY_ALARM, VERDICT_ALARM, VERDICT_FILL_VALUE
from stacks.pipeline.build_project import flag
from stacks.pipeline_stack import APPROVAL_ACTION, APPROVAL_STAGE, PROMOTION_ACTION, PROMOTION_STAGE
from testbed import aws_contracts, iam_enforcement, iam_world
from testbed.aws import REGION, MotoServer, moto_server
from testbed.fleet_metrics import FleetBehaviour
from testbed.gateway_harness import TASK_READ_TIMEOUTS, Gateway, gateway_environment, running_gateway
from testbed.gateway_tables import create_gateway_tables, issue_test_key
from testbed.iam_eval import PolicyWorld
from testbed.lambda_fakes import LambdaContext, job_event
from testbed.moto_pipelines import PlayedExecution, pipeline_runs
from testbed.moto_sagemaker import endpoint_updates, queue_invocation_results

LIVE = FleetBehaviour(error_rate=0.01, latency_ms=50)
REQUESTS_PER_MINUTE = 300
# An experiment that no verdict ends within this many simulated minutes is reported undecided.
MAX_EXPERIMENT_MINUTES = 360
Say = Callable[[str], None]


@dataclass(frozen=True)
class Candidate:
    name: str
    behaviour: FleetBehaviour
    expected: str  # "promoted" or "rolled back"


CANDIDATES = (
    Candidate("good", LIVE, "promoted"),
    # 6 % errors: at dev's half share the endpoint's rate (3.5 %) stays under the 5 % alarm, so the canary finds it;
    # all at once, the 5xx alarm alone must (and does).
    Candidate("bad", FleetBehaviour(error_rate=0.06, latency_ms=80), "rolled back"),
)


@dataclass
class ReleaseOutcome:
    name: str
    package_arn: str
    deploy_exit_code: int
    result: str
    minutes: list[dict[str, Any]] = field(default_factory=list)
    environment: str = "dev"
    execution_id: str = ""
    source_commit: str = ""
    strategy: str = ""
    candidate_fleet: str = ""  # the label of the candidate's fleet in `minutes` (its endpoint config or variant)
    ended_by: str = ""  # the alarm SageMaker rolled back on, the traffic shifter's last action, or the bake's end


@dataclass
class Rehearsal:
    """`chain`: every environment of the rehearsed promotion chain in order; `world` trains (its first), `prod` is
    its last; `repositories`: the source repository of every environment after the first, by environment name."""

    server: MotoServer
    chain: list[World]
    source_dir: Path
    repositories: dict[str, CodeCommitDouble]
    gateway: Gateway
    stub: StubBehaviour
    say: Say
    rng: np.random.Generator
    verdicts: VerdictBus
    iam: PolicyWorld  # the synthesized templates every principal's calls are decided against
    pipeline_executions: list[PlayedExecution]  # the SageMaker Pipeline executions a Train build started, as played
    double: CodePipelineDouble = field(init=False)
    builds: int = 0

    def __post_init__(self) -> None:
        self.double = CodePipelineDouble(self.world.naming.pipeline, tuple(w.naming.pipeline for w in self.chain[1:]))
        self.clients = AwsClients(
            overrides={"codepipeline": self.double, "codecommit": self.repository(self.chain[1])},
            session=boto3.session.Session(),
        )

    @property
    def world(self) -> World:
        return self.chain[0]

    @property
    def prod(self) -> World:
        return self.chain[-1]

    @property
    def prod_repository(self) -> CodeCommitDouble:
        return self.repository(self.prod)

    def repository(self, environment: World) -> CodeCommitDouble:
        return self.repositories[environment.naming.env]

    def environment(self, name: str) -> World:
        return next(world for world in self.chain if world.naming.env == name)

    # --- one release: the dev pipeline's actions in order ------------------------------------------------------

    def release(self, label: str, fleet: FleetBehaviour | None) -> ReleaseOutcome:
        execution_id = job_uuid(f"execution {label}")  # CodePipeline's execution ids are UUIDs, as its job ids
        commit = f"{abs(hash(label)) % 16**12:012x}" * 3 + "abcd"
        package_arn = self._step(f"{label}: Train (buildspec-dev.yml)", lambda: self._train(commit))
        self.double.registered(execution_id, package_arn)
        self._step(f"{label}: QualityGate", lambda: self._quality_gate(package_arn))
        self._step(f"{label}: Approval (given by the rehearsal's approver)", lambda: self._approve(execution_id))
        self._step(f"{label}: ApprovalSync", lambda: self._approval_sync(package_arn, execution_id))
        outcome = self._step(f"{label}: Deploy (buildspec-deploy.yml)", lambda: self._deploy(label, package_arn, fleet))
        outcome.execution_id, outcome.source_commit = execution_id, commit
        return outcome

    def _step(self, title: str, action: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        result = action()
        shown = result.result if isinstance(result, ReleaseOutcome) else result
        self.say(f"[{time.perf_counter() - started:5.1f} s] {title}: {shown}")
        return result

    def _aws(self) -> dict[str, str]:
        return {**self.server.environment(), "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION}

    def build_role(self, env: str, project: str) -> dict[str, str]:
        """The variables that make a build act as the service role of `env`'s CodeBuild project `project`."""
        naming = self.environment(env).naming
        return iam_enforcement.subprocess_environment(iam_world.codebuild_role(self.iam, naming, project))

    def as_lambda(self, function: Function, naming: Any = None) -> Any:
        """Calls of the block are made by the execution role of the environment's Lambda function `function`."""
        return iam_enforcement.acting_as(iam_world.lambda_role(self.iam, naming or self.world.naming, function))

    def _build(
        self,
        buildspec: str | dict[str, Any],
        source_dir: Path | None = None,
        env: str = "",
        project: str = "deploy",
        **variables: str,
    ) -> tuple[int, str]:
        """One CodeBuild run of `buildspec` (a file of the checkout, or a project's own) on `source_dir`, as the
        service role of `env`'s CodeBuild project `project`."""
        self.builds += 1
        source_dir = source_dir or self.source_dir
        environment = codebuild.codebuild_environment(
            {**self._aws(), **self.build_role(env or self.world.naming.env, project)},
            source_dir,
            PROJECT=self.world.naming.project,
            ENV=env or self.world.naming.env,
            CODEBUILD_BUILD_NUMBER=str(self.builds),
            SAFEDEPLOY_POLL_SECONDS="0.05",
            **variables,
        )
        spec = ROOT / buildspec if isinstance(buildspec, str) else buildspec
        process = codebuild.start_build(spec, environment, source_dir)
        output, _ = process.communicate(timeout=600)
        return process.returncode, output

    def _train(self, commit: str) -> str:
        code, output = self._build(
            "buildspec-dev.yml",
            project="train",
            USE_SM_PIPELINE=flag(self.world.config.flags.use_sm_pipeline),
            USE_FEATURE_STORE="false",
            TRAINING_ROWS="3000",
            CODEBUILD_RESOLVED_SOURCE_VERSION=commit,
        )
        if code:
            raise RuntimeError(f"train build failed:\n{output[-3000:]}")
        return codebuild.exported_variables(output)["MODEL_PACKAGE_ARN"]

    def _lambda(self, module: Any, parameters: dict[str, Any], job_id: str, naming: Any = None) -> str:
        """A CodePipeline job of the Lambda function `lambdas.<name>.handler`, as that function's role in the
        environment `naming` names (default: the training one)."""
        function = Function(module.__name__.split(".")[1].replace("_", "-"))
        with patch.object(module, "clients", self.clients), self.as_lambda(function, naming):
            module.handler(job_event(parameters, job_uuid(job_id)), LambdaContext())
        return self._job_result(job_id)

    def _job_result(self, job_id: str) -> str:
        succeeded, message = self.double.results[job_uuid(job_id)]
        if not succeeded:
            raise RuntimeError(f"{job_id} failed: {message}")
        return message.splitlines()[0]

    def _quality_gate(self, package_arn: str) -> str:
        from lambdas.quality_gate import handler

        thresholds = self.world.config.quality_gate.thresholds(self.world.model.metrics)
        return self._lambda(handler, {"model_package_arn": package_arn, "thresholds": thresholds}, "gate")

    def _approve(self, execution_id: str) -> str:
        self.double.approve(execution_id, APPROVAL_STAGE, APPROVAL_ACTION, "metrics reviewed in the rehearsal")
        return "approved by a person"

    def _approval_sync(self, package_arn: str, execution_id: str) -> str:
        from lambdas.approval_sync import handler

        parameters = {"model_package_arn": package_arn, "pipeline_execution_id": execution_id}
        return self._lambda(handler, parameters, "sync")

    # --- deploy with guardrails, traffic and the canary analysis -------------------------------------------------

    def _deploy(self, label: str, package_arn: str, candidate: FleetBehaviour | None) -> ReleaseOutcome:
        queue_invocation_results(REGION, *self.world.smoke_answers())
        if candidate is None:
            code, output = self._build("buildspec-deploy.yml", MODEL_PACKAGE_ARN=package_arn)
            return ReleaseOutcome(label, package_arn, code, "live" if code == 0 else f"failed:\n{output[-2000:]}")
        forget_simulated_future(REGION, datetime.now(UTC))  # this release's minutes begin now
        settings = self.world.config.endpoint
        outcome = ReleaseOutcome(label, package_arn, -1, "", strategy=settings.strategy.name)
        if settings.strategy.guardrails:
            self._guarded_update(outcome, candidate, settings)
        else:
            self._experiment(outcome, candidate)
        return outcome

    def _guarded_update(self, outcome: ReleaseOutcome, candidate: FleetBehaviour, settings: DeploymentSettings) -> None:
        """SageMaker's blue/green or rolling update, step by step; it rolls back when a rollback alarm fires."""
        endpoint = self.world.naming.endpoint
        sm = self.server.client("sagemaker")
        updates = endpoint_updates(REGION)
        updates.plan(endpoint, "succeed", polls=10**9)
        environment = codebuild.codebuild_environment(
            {**self._aws(), **self.build_role(self.world.naming.env, "deploy")},
            self.source_dir,
            PROJECT=self.world.naming.project,
            ENV=self.world.naming.env,
            MODEL_PACKAGE_ARN=outcome.package_arn,
            SAFEDEPLOY_POLL_SECONDS="0.05",
        )
        process = codebuild.start_build(ROOT / "buildspec-deploy.yml", environment, self.source_dir)
        started = _wait_for_update(sm, endpoint)
        live, new = sm.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"], started["EndpointConfigName"]
        outcome.candidate_fleet = new
        name = self.world.naming.resource
        alarms = [  # the guardrails stack's three rollback alarms, as SageMaker watches them during an update
            Alarm(name(ERROR_RATE_ALARM), "error_rate", settings.alarms.error_rate_5xx_percent / 100),
            Alarm(name(LATENCY_ALARM), "mean_latency_ms", settings.alarms.model_latency_ms),
            # the analysis publishes 0 every minute when idle: the range holds healthy points when the update starts
            Alarm(
                name(VERDICT_ALARM),
                "verdict",
                1,
                inclusive=True,
                missing_breaches=True,
                fill=VERDICT_FILL_VALUE,
                values=[0.0] * EVALUATION_RANGE,
            ),
        ]

        phases = guarded_phases(settings)

        def fleets(minute: int) -> list[SimulatedFleet]:
            share = share_at(phases, minute)
            shares = ((live, 1 - share, LIVE), (new, share, candidate))
            return [blue_green_fleet(endpoint, name, s, b) for name, s, b in shares if s > 0]

        fired = self._bake(started["StartTime"], replayed_minutes(phases), fleets, alarms, outcome)
        updates.finish(endpoint, "rollback" if fired else "succeed", f"{fired} alarm" if fired else "")
        output, _ = process.communicate(timeout=300)
        outcome.deploy_exit_code = process.returncode
        outcome.ended_by = f"{fired} alarm: SageMaker rolled back" if fired else "every step baked"
        outcome.result = "rolled back" if fired else ("promoted" if process.returncode == 0 else "failed")
        if outcome.result == "failed":
            outcome.result += f":\n{output[-2000:]}"

    def _experiment(self, outcome: ReleaseOutcome, candidate: FleetBehaviour) -> None:
        """A shadow or A/B experiment: the deploy starts it, verified verdicts move it through the traffic shifter."""
        from lambdas.traffic_shifter import handler as shifter

        code, output = self._build("buildspec-deploy.yml", MODEL_PACKAGE_ARN=outcome.package_arn)
        outcome.deploy_exit_code = code
        if code:
            outcome.result = f"failed:\n{output[-2000:]}"
            return
        sm, endpoint = self.server.client("sagemaker"), self.world.naming.endpoint
        described = sm.describe_endpoint(EndpointName=endpoint)
        tags = resource_tags.read_tags(sm, described["EndpointArn"])
        variants = described["ProductionVariants"] + described.get("ShadowProductionVariants", [])
        outcome.candidate_fleet = next(v["VariantName"] for v in variants if v["VariantName"] != PRODUCTION_VARIANT)
        start = datetime.fromisoformat(tags[resource_tags.GUARDED_AT])
        updates, actions = endpoint_updates(REGION), []
        # One session for the experiment's invocations (each still gets clients of its own): a new session parses
        # the service models again, a third of a second of CPU every simulated minute.
        session = boto3.session.Session()

        def fleets(minute: int) -> list[SimulatedFleet]:
            # SageMaker stamps weight steps and updates at the simulated minute they happen.
            updates.clock = lambda: minute_start(start, minute).astimezone(UTC).replace(tzinfo=None)
            for event in self.verdicts.drain():  # what the verdicts of the last minute did
                # The shifter acts a second after the analysis wrote the verdict, by the simulated clock.
                acting_at = minute_start(start, minute) + timedelta(seconds=6)
                with (
                    patch.object(shifter, "clients", AwsClients(session=session)),
                    patch.object(clock, "utc_now", lambda at=acting_at: at),
                    self.as_lambda(Function.TRAFFIC_SHIFTER),
                ):
                    step = shifter.handler(event, LambdaContext())
                if step["action"] != StepAction.UNCHANGED:  # a CONTINUE verdict leaves the weights where they are
                    # The step's detail ends with the verdict's record URI; the summary line stops before it.
                    actions.append(
                        f"minute {minute}: {event['detail']['decision']} -> {step['action']}: {step['detail']}"
                    )
                    self.say(f"    traffic shifter: {actions[-1]}")
            snapshot = describe_endpoint(sm, endpoint)
            if snapshot is None or (not snapshot.changing and Experiment.running_on(sm, snapshot) is None):
                return []
            return _experiment_fleets(sm.describe_endpoint(EndpointName=endpoint), candidate)

        try:
            self._bake(start, range(MAX_EXPERIMENT_MINUTES), fleets, [], outcome)
        finally:
            updates.clock = utcnow
        serving = resource_tags.read_tags(sm, sm.describe_endpoint(EndpointName=endpoint)["EndpointArn"])
        promoted = serving.get(resource_tags.PACKAGE_ARN) == outcome.package_arn
        outcome.result = "promoted" if promoted else ("rolled back" if actions else "undecided")
        outcome.ended_by = (
            actions[-1].split(" (verdict ")[0] if actions else f"no verdict in {MAX_EXPERIMENT_MINUTES} minutes"
        )

    def _bake(
        self,
        start: Any,
        minutes: Iterable[int],
        fleets: Callable[[int], list[SimulatedFleet]],
        alarms: list[Alarm],
        outcome: ReleaseOutcome,
    ) -> str | None:
        """Simulated minutes of a release: traffic, then the canary analysis, then CloudWatch's alarms; the name of
        the alarm that fired (SageMaker rolls back), or None when the minutes ran out or the release ended."""
        from lambdas.canary_analysis import handler

        traffic = TrafficReplay(
            self.world.naming.endpoint, self.gateway.url, self.gateway.log, self.stub, self.server.client("cloudwatch"),
            self.rng, self.world.contract.health_check, self.gateway.api_key or "",
        )  # fmt: skip
        with patch.object(handler, "clients", AwsClients(session=boto3.session.Session())):
            for minute in minutes:
                present = fleets(minute)
                if not present:
                    return None
                served = traffic.minute(
                    minute_start(start, minute) + timedelta(seconds=30), REQUESTS_PER_MINUTE, present
                )
                now = minute_start(start, minute + 1) + timedelta(seconds=5)
                event = {
                    "source": "aws.events",
                    "detail-type": "Scheduled Event",
                    "time": now.isoformat(),
                    "detail": {},
                }
                with (
                    patch.object(clock, "utc_now", lambda at=now: at),  # the simulated minute is the analysis's clock
                    self.as_lambda(Function.CANARY_ANALYSIS),
                ):
                    summary = handler.handler(event, LambdaContext())
                record = _read_record(self.server.client("s3"), summary.get("record_uri"))
                readings = {
                    "error_rate": served.error_rate,
                    "mean_latency_ms": served.mean_latency_ms,
                    "verdict": summary["verdict_metric"],
                }
                fired = [alarm.name for alarm in alarms if alarm.observe(readings[alarm.reads])]
                outcome.minutes.append(_minute_entry(minute + 1, served, summary, record, fired))
                self.say(_minute_line(outcome.minutes[-1]))
                if fired:
                    return fired[0]
        return None


def _experiment_fleets(described: dict[str, Any], candidate: FleetBehaviour) -> list[SimulatedFleet]:
    """An experiment's fleets from DescribeEndpoint: A/B variants by weight, or a shadow's copies of its share."""
    endpoint = described["EndpointName"]
    variants = described["ProductionVariants"]
    total = sum(variant["CurrentWeight"] for variant in variants) or 1.0
    fleets = [
        variant_fleet(
            endpoint,
            variant["VariantName"],
            variant["CurrentWeight"] / total,
            LIVE if variant["VariantName"] == PRODUCTION_VARIANT else candidate,
        )
        for variant in variants
    ]
    production = sum(v["CurrentWeight"] for v in variants if v["VariantName"] == PRODUCTION_VARIANT) or 1.0
    fleets += [
        variant_fleet(endpoint, shadow["VariantName"], shadow["CurrentWeight"] / production, candidate, serves=False)
        for shadow in described.get("ShadowProductionVariants") or []
    ]
    return fleets


def _wait_for_update(sm: Any, endpoint: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending = sm.describe_endpoint(EndpointName=endpoint).get("PendingDeploymentSummary")
        if pending:
            return pending
        time.sleep(0.05)
    raise RuntimeError(f"the deploy build never started an update of {endpoint}")


def _read_record(s3: Any, uri: str | None) -> dict[str, Any]:
    if not uri:
        return {}
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def _minute_entry(minute: int, served: Any, summary: dict[str, Any], record: dict[str, Any], fired: list[str]) -> dict:
    metrics = record.get("verdict", {}).get("metrics", {})
    return {
        "minute": minute,
        "fleets": served.per_fleet,
        "gateway_statuses": served.gateway_statuses,
        "decision": summary["decision"],
        "verdict_metric": summary["verdict_metric"],
        "alarm": ", ".join(f"ALARM {name}" for name in fired) or "OK",
        "record_uri": summary.get("record_uri"),
        "statistics": {
            name: {key: details.get(key) for key in ("statistic", "boundary", "n_candidate", "candidate", "baseline")}
            for name, details in metrics.items()
        },
    }


def _minute_line(entry: dict[str, Any]) -> str:
    stats = "; ".join(
        f"{name} z={_num(values['statistic'])} bound={_num(values['boundary'])}"
        for name, values in entry["statistics"].items()
    )
    decision = entry["decision"] or "-"  # "-": nothing to compare (all at once)
    head = f"    minute {entry['minute']:2d}: {decision:<8} verdict={entry['verdict_metric']} {entry['alarm']:<5}"
    return f"{head} {stats}"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def job_uuid(name: str) -> str:
    """The id of the rehearsal's job (or execution) `name`: a UUID, as CodePipeline's are (handlers refuse others)."""
    return str(uuid.uuid5(uuid.NAMESPACE_OID, name))


def release_functions_environment(environment: World, following: World, approval_action: str) -> dict[str, str]:
    """What the pipeline stack gives `environment`'s ApprovalSync and Promote: its records (artifacts bucket, key,
    package group), the next environment's repository and branch, and which approvals of its pipeline to read
    (`approval_action`: the model's where it trains, the release's where it was promoted to)."""
    return {
        RECORDS_BUCKET_ENV: environment.artifacts_bucket,
        RECORDS_KEY_ENV: environment.key_arn,
        PACKAGE_GROUP_ENV: environment.naming.model_package_group,
        "RELEASE_REPOSITORY": following.naming.prefix,
        "RELEASE_BRANCH": following.config.pipeline.branch,
        PIPELINE_NAME_ENV: environment.naming.pipeline,
        "APPROVAL_STAGE": APPROVAL_STAGE,
        "APPROVAL_ACTION": approval_action,
        "PROMOTION_APPROVAL_STAGE": PROMOTION_STAGE,
        "PROMOTION_APPROVAL_ACTION": PROMOTION_ACTION,
    }


@contextmanager
def rehearsal_world(
    work_dir: Path, say: Say, seed: int, strategy: str | None = None, config_file: Path = CONFIG_FILE
) -> Iterator[Rehearsal]:
    """moto, the provisioned environments, a checkout of the model code, the stub endpoint and the real gateway;
    dev deploys with `strategy` instead of its configured one when given."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto_server's per-request access log
    with ExitStack() as stack:
        server = stack.enter_context(moto_server())
        server.reset()  # moto's state lives in this process: a second rehearsal in it starts from nothing too
        # A Train build with use_sm_pipeline runs the model's SageMaker Pipeline: its definition is played on moto.
        pipeline_executions = stack.enter_context(pipeline_runs())
        context = rehearsed_context(strategy, config_file)
        chain = [provision(server, name, context) for name in rehearsed_chain(context)]
        world = chain[0]
        # Every principal's calls are decided against the templates synthesized from this configuration, with the
        # buckets and keys provisioned here in place of CloudFormation's.
        aws_contracts.install_for_tests()
        # The strategy changes no policy (only the deployment-config parameter's value), so the configured app's
        # templates serve every strategy and are synthesized once.
        iam = iam_world.policy_world(
            rehearsed_context(config_file=config_file),
            REGION,
            {key: value for each in chain for key, value in each.bindings().items()},
        )
        iam_enforcement.enforce([iam], work_dir)
        stack.callback(iam_enforcement.stop_enforcing)
        # The handlers run in this process as Lambda would run them: configured by environment, restored afterwards.
        environment = {
            **server.environment(),
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "POWERTOOLS_METRICS_NAMESPACE": "SafeDeploy",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "POWERTOOLS_METRICS_DISABLED": "true",  # the handlers' own EMF lines would interleave with the report
            "SAFEDEPLOY_PROJECT": world.naming.project,
            "SAFEDEPLOY_ENV": world.naming.env,
            **release_functions_environment(world, chain[1], APPROVAL_ACTION),
        }
        stack.enter_context(patch.dict(os.environ, environment))
        # dev's checkout: the model code and the deploy tooling, as the repository holds them.
        source_dir = work_dir / "source"
        for tree in (world.model.code_package, TOOLING_PACKAGE):
            shutil.copytree(ROOT / tree, source_dir / tree, ignore=shutil.ignore_patterns("__pycache__"))
        for name in TOOLING_FILES:
            shutil.copy(ROOT / name, source_dir / name)
        # cdk.json names the model's entry points; the checkout holds the configuration being rehearsed.
        checkout_config = {**json.loads(config_file.read_text()), "context": context}
        (source_dir / "cdk.json").write_text(json.dumps(checkout_config, indent=2))
        # Each later environment's repository: what the Promote before it commits, nothing else (its Deploy has no
        # other source). The first double answers for all of them, by repository name.
        repositories = {
            each.naming.env: CodeCommitDouble(each.naming.prefix, work_dir / f"{each.naming.env}-repository")
            for each in chain[1:]
        }
        for repository in repositories.values():
            repository.directory.mkdir()
        first, *others = repositories.values()
        first.others = {repository.repository: repository for repository in others}
        stub = StubBehaviour(record=False)
        stub_url = stack.enter_context(running_stub(stub))
        # The serving stack's tables, and a key the traffic sends (the gateway answers nothing without one).
        dynamodb = server.client("dynamodb")
        keys_table, feedback_table = create_gateway_tables(dynamodb, world.naming)
        environment = gateway_environment(
            server,
            stub_url,
            API_KEYS_TABLE=keys_table,
            FEEDBACK_TABLE=feedback_table,
            ENDPOINT_NAME=world.naming.endpoint,
            **world.contract.gateway_environment(),
            **TASK_READ_TIMEOUTS,
            ALLOW_DEV_SECRET="true",
            ENDPOINT_TIMEOUT_SECONDS="5",
            **iam_enforcement.subprocess_environment(iam_world.gateway_task_role(iam, world.naming)),
        )
        api_key = issue_test_key(dynamodb, keys_table, "predict", name="rehearsal-traffic")
        gateway = stack.enter_context(running_gateway(environment, work_dir / "gateway.log", api_key))
        verdicts = VerdictBus.for_endpoint(server.client("events"), server.client("sqs"), world.naming.endpoint)
        yield Rehearsal(
            server,
            chain,
            source_dir,
            repositories,
            gateway,
            stub,
            say,
            np.random.default_rng(seed),
            verdicts,
            iam,
            pipeline_executions,
        )
