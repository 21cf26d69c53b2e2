"""The rehearsal's second half: the good candidate is promoted along the configured chain (dev -> prod as shipped,
dev -> staging -> prod with staging) and deployed in each environment's real source layout (its repository holds
release.json and nothing else; its Deploy runs its own buildspec, which verifies and runs the tooling dev approved;
an environment in the middle forwards the release it deployed, after its own approvals), then every attack on the
path to the last environment is played and must end in one refusal line, with nothing deployed and nothing lost.

To add an attack, append an `Attack` to `ATTACKS`: a name and a function that plays it and returns its outcome.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any
from unittest.mock import patch

from rehearsal.attacks.forged_verdict import AttackSucceeded, play_forged_verdict
from rehearsal.pipeline_double import PROMOTER
from rehearsal.scenario import Rehearsal, ReleaseOutcome, job_uuid, release_functions_environment
from rehearsal.world import World
from safedeploy.decision import Decision
from safedeploy.naming import Function
from safedeploy.trust.release_manifest import RELEASE_FILE
from stacks.pipeline.release_buildspec import release_buildspec
from stacks.pipeline_stack import APPROVAL_STAGE, PROMOTION_ACTION, PROMOTION_STAGE, RELEASE_APPROVAL_ACTION
from testbed import iam_enforcement
from testbed.aws import REGION
from testbed.lambda_fakes import LambdaContext, job_event
from testbed.moto_sagemaker import queue_invocation_results


@dataclass
class AttackOutcome:
    attack: str
    refused: bool
    line: str
    exit_code: int | None = None

    def __str__(self) -> str:
        return self.line


@dataclass(frozen=True)
class Attack:
    name: str
    play: Callable[[Rehearsal, ReleaseOutcome], AttackOutcome]


# --- the path: promotion in dev, then approval, deploy (and forwarding) in each later environment ----------------


def promote(rehearsal: Rehearsal, release: ReleaseOutcome) -> str:
    """PromoteApproval (a person) and Promote: release.json committed to the next environment's repository."""
    from lambdas.promote import handler

    rehearsal.double.approve(
        release.execution_id, PROMOTION_STAGE, PROMOTION_ACTION, "serving well in dev", by=PROMOTER
    )
    parameters = {
        "model_package_arn": release.package_arn,
        "source_commit": release.source_commit,
        "pipeline_execution_id": release.execution_id,
    }
    return rehearsal._lambda(handler, parameters, "promote")


def release_deploy(rehearsal: Rehearsal, environment: World, source_dir: Any = None) -> tuple[int, str]:
    """A promoted-to environment's Deploy: its own buildspec, on its repository (or on `source_dir`, to show what
    another layout gets), reading the packages and records of the chain's origin."""
    queue_invocation_results(REGION, *environment.smoke_answers())
    return rehearsal._build(
        release_buildspec(),
        source_dir or rehearsal.repository(environment).directory,
        env=environment.naming.env,
        project="deploy",
        SOURCE_ENV=rehearsal.world.naming.env,
        SOURCE_ARTIFACTS_BUCKET=rehearsal.world.artifacts_bucket,
    )


def prod_deploy(rehearsal: Rehearsal, label: str, source_dir: Any = None) -> tuple[int, str]:
    """The last environment's Deploy (`label` names the attempt in the attacks)."""
    return release_deploy(rehearsal, rehearsal.prod, source_dir)


def forward(rehearsal: Rehearsal, environment: World, execution_id: str) -> str:
    """A middle environment's PromoteApproval (a person) and Promote: the release it deployed, committed to the next
    environment's repository, by its own function configured as the pipeline stack configures it."""
    from lambdas.promote import handler

    following = rehearsal.chain[rehearsal.chain.index(environment) + 1]
    pipeline, name = environment.naming.pipeline, environment.naming.env
    rehearsal.double.approve(
        execution_id, PROMOTION_STAGE, PROMOTION_ACTION, f"serving well in {name}", by=PROMOTER, pipeline=pipeline
    )
    repository = rehearsal.repository(environment)
    parameters = {
        "release_repository": repository.repository,
        "release_commit": repository.commits[-1]["commitId"],
        "pipeline_execution_id": execution_id,
    }
    with patch.dict(os.environ, release_functions_environment(environment, following, RELEASE_APPROVAL_ACTION)):
        return rehearsal._lambda(handler, parameters, f"forward-{name}", naming=environment.naming)


def release_through_chain(rehearsal: Rehearsal, release: ReleaseOutcome) -> list[ReleaseOutcome]:
    """Promote in dev, then in each later environment: a person approves the release, Deploy runs, and an
    environment in the middle forwards it. Stops at the first environment whose Deploy fails."""
    dev = rehearsal.world.naming.env
    rehearsal._step(f"{release.name}: PromoteApproval + Promote ({dev})", lambda: promote(rehearsal, release))
    outcomes: list[ReleaseOutcome] = []
    for environment in rehearsal.chain[1:]:
        name, execution_id = environment.naming.env, job_uuid(f"{environment.naming.env} release {release.name}")
        message = rehearsal.repository(environment).commits[-1]["message"]
        rehearsal.double.approve(
            execution_id, APPROVAL_STAGE, RELEASE_APPROVAL_ACTION, message[:80], pipeline=environment.naming.pipeline
        )
        rehearsal._step(f"{name}: Approval (the release approver reads the promotion commit)", lambda m=message: m)

        def deploy(environment: World = environment) -> ReleaseOutcome:
            code, output = release_deploy(rehearsal, environment)
            result = "live" if code == 0 else f"failed:\n{output[-2000:]}"
            return ReleaseOutcome(release.name, release.package_arn, code, result, environment=environment.naming.env)

        outcome = rehearsal._step(f"{name}: Deploy (the project's own buildspec, tooling verified)", deploy)
        outcomes.append(outcome)
        if outcome.result != "live":
            break
        if environment is not rehearsal.prod:
            title = f"{name}: PromoteApproval + Promote (forwarding the release it deployed)"
            rehearsal._step(title, partial(forward, rehearsal, environment, execution_id))
    return outcomes


# --- the attacks ----------------------------------------------------------------------------------------------


def _refusal(code: int, output: str, attack: str) -> AttackOutcome:
    lines = [line for line in output.splitlines() if "refused:" in line]
    return AttackOutcome(attack, code == 3 and bool(lines), lines[-1] if lines else output[-500:], code)


def _forge_package(rehearsal: Rehearsal, release: ReleaseOutcome, group: str, status: str) -> str:
    """A package with the live one's bytes and provenance, registered by someone other than a person's decision."""
    sm = rehearsal.server.client("sagemaker")
    described = sm.describe_model_package(ModelPackageName=release.package_arn)
    if not sm.list_model_package_groups(NameContains=group)["ModelPackageGroupSummaryList"]:
        sm.create_model_package_group(ModelPackageGroupName=group)
    return sm.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus=status,
        InferenceSpecification=described["InferenceSpecification"],
        ModelMetrics=described["ModelMetrics"],
        CustomerMetadataProperties=described["CustomerMetadataProperties"],
    )["ModelPackageArn"]


def self_approved(rehearsal: Rehearsal, release: ReleaseOutcome) -> AttackOutcome:
    """A build registers its own package as Approved (IAM's condition denies this in AWS; moto accepts it)."""
    package = _forge_package(rehearsal, release, rehearsal.world.naming.model_package_group, "Approved")
    code, output = rehearsal._build("buildspec-deploy.yml", MODEL_PACKAGE_ARN=package)
    return _refusal(code, output, "self-approved package")


def foreign_group(rehearsal: Rehearsal, release: ReleaseOutcome) -> AttackOutcome:
    package = _forge_package(rehearsal, release, f"{rehearsal.world.naming.project}-attacker-models", "Approved")
    code, output = rehearsal._build("buildspec-deploy.yml", MODEL_PACKAGE_ARN=package)
    return _refusal(code, output, "foreign package group")


def forged_approver(rehearsal: Rehearsal, release: ReleaseOutcome) -> AttackOutcome:
    """A push to prod's repository that names someone else as the dev approver."""
    forged_repository = rehearsal.source_dir.parent / "prod-repository-forged"
    shutil.copytree(rehearsal.prod_repository.directory, forged_repository)
    manifest = json.loads((forged_repository / RELEASE_FILE).read_text())
    manifest["approved_by"] = "arn:aws:iam::123456789012:user/mallory"
    (forged_repository / RELEASE_FILE).write_text(json.dumps(manifest))
    code, output = prod_deploy(rehearsal, "forged", forged_repository)
    return _refusal(code, output, "forged approver in release.json")


def tampered_artifact(rehearsal: Rehearsal, release: ReleaseOutcome) -> AttackOutcome:
    """The approved model.tar.gz in dev's bucket is replaced after approval (its first version stays)."""
    sm, s3 = rehearsal.server.client("sagemaker"), rehearsal.server.client("s3")
    url = sm.describe_model_package(ModelPackageName=release.package_arn)["InferenceSpecification"]["Containers"][0][
        "ModelDataUrl"
    ]
    bucket, key = url.removeprefix("s3://").split("/", 1)
    s3.put_object(Bucket=bucket, Key=key, Body=b"not the approved model")
    code, output = rehearsal._build("buildspec-deploy.yml", MODEL_PACKAGE_ARN=release.package_arn)
    return _refusal(code, output, "tampered artifact")


def release_json_pushed_to_dev(rehearsal: Rehearsal, release: ReleaseOutcome) -> AttackOutcome:
    """A release.json naming an unreviewed package, committed to dev's repository, as if it reached prod's Deploy.

    Prod's pipeline has no source but prod's repository, so the file never reaches it; fed to prod's Deploy in
    place of prod's repository (the old wiring), it is refused before any tooling runs.
    """
    unreviewed = _forge_package(rehearsal, release, rehearsal.world.naming.model_package_group, "Approved")
    promoted = json.loads((rehearsal.prod_repository.directory / RELEASE_FILE).read_text())
    (rehearsal.source_dir / RELEASE_FILE).write_text(json.dumps({**promoted, "model_package_arn": unreviewed}))
    code, output = prod_deploy(rehearsal, "pushed-to-dev", rehearsal.source_dir)
    (rehearsal.source_dir / RELEASE_FILE).unlink()
    return _refusal(code, output, "release.json pushed to dev")


def direct_approval_sync(rehearsal: Rehearsal, release: ReleaseOutcome) -> AttackOutcome:
    """Someone with lambda:InvokeFunction names a never-reviewed package and the good release's approved execution."""
    from lambdas.approval_sync import handler

    never_reviewed = _forge_package(
        rehearsal, release, rehearsal.world.naming.model_package_group, "PendingManualApproval"
    )
    parameters = {"model_package_arn": never_reviewed, "pipeline_execution_id": release.execution_id}
    function = rehearsal.world.naming.function(Function.APPROVAL_SYNC)
    iam_enforcement.attacker_invokes(function)
    with patch.object(handler, "clients", rehearsal.clients), rehearsal.as_lambda(Function.APPROVAL_SYNC):
        handler.handler(job_event(parameters, job_uuid("forged-sync")), LambdaContext())
    succeeded, message = rehearsal.double.results[job_uuid("forged-sync")]
    status = rehearsal.server.client("sagemaker").describe_model_package(ModelPackageName=never_reviewed)
    refused = not succeeded and status["ModelApprovalStatus"] == "PendingManualApproval"
    return AttackOutcome("direct ApprovalSync invocation", refused, f"ApprovalSync: {message}")


def forged_verdict(rehearsal: Rehearsal, release: ReleaseOutcome) -> AttackOutcome:
    """Someone with events:PutEvents announces a PROMOTE that no analysis decided; the shifter checks the record."""
    naming = rehearsal.world.naming
    try:
        line = play_forged_verdict(rehearsal.clients, naming.project, naming.env, decision=Decision.PROMOTE)
    except AttackSucceeded as succeeded:
        return AttackOutcome("forged verdict event", False, str(succeeded))
    return AttackOutcome("forged verdict event", True, f"traffic shifter: {line}")


ATTACKS: list[Attack] = [
    Attack("self-approved package", self_approved),
    Attack("foreign package group", foreign_group),
    Attack("forged approver in release.json", forged_approver),
    Attack("release.json pushed to dev", release_json_pushed_to_dev),
    Attack("direct ApprovalSync invocation", direct_approval_sync),
    Attack("forged verdict event", forged_verdict),
    Attack("tampered artifact", tampered_artifact),  # last: it leaves dev's current model object replaced
]


def play_attacks(rehearsal: Rehearsal, release: ReleaseOutcome) -> list[AttackOutcome]:
    outcomes = []
    for attack in ATTACKS:
        outcome = rehearsal._step(f"attack: {attack.name}", lambda attack=attack: attack.play(rehearsal, release))
        outcomes.append(outcome)
    return outcomes
