"""The synthesized templates the IAM evaluation runs against, and who acts in them.

Synthesizing the app takes the better part of a minute, so the templates are synthesized once per configuration
and source tree and kept in the temporary directory (keyed by a hash of both): every test process and the
rehearsal reuse them. Synthesis runs in a subprocess, without asset bundling, like the unit tests' synth.
"""

from __future__ import annotations

import copy
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from safedeploy.naming import Function, Naming
from testbed.iam_eval import ACCOUNT, STACK_NAME, PolicyWorld, Principal

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("app.py", "infra", "stacks", "safedeploy", "lambdas", "serving")  # cdk.json's part is the context
_SYNTH = """
import json, sys
from aws_cdk import App
from app import build_app
app = App(context={**json.loads(sys.argv[1]), "aws:cdk:bundling-stacks": []}, outdir=sys.argv[2])
build_app(app)
app.synth()
"""


def _fingerprint(context: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(context, sort_keys=True).encode())
    for source in SOURCES:
        path = ROOT / source
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for file in files:
            if "__pycache__" not in file.parts:
                digest.update(str(file.relative_to(ROOT)).encode())
                digest.update(file.read_bytes())
    return digest.hexdigest()[:24]


def synthesized_templates(context: dict[str, Any]) -> list[dict[str, Any]]:
    """Every stack template of the app synthesized with `context` (cached across processes)."""
    return [template for stage in synthesized_stages(context).values() for template in stage]


def _cache(context: dict[str, Any]) -> Path:
    return Path(tempfile.gettempdir()) / "safedeploy-synth" / _fingerprint(context)


def _publish(staging: Path, cache: Path) -> None:
    try:
        staging.rename(cache)  # atomic: a concurrent synth of the same tree loses the race harmlessly
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)


def keep(context: dict[str, Any], outdir: Path) -> None:
    """Offer the templates of a synth made elsewhere (`app.synth()` into `outdir`, without bundling) to the cache."""
    cache = _cache(context)
    if cache.is_dir():
        return
    cache.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="synth-", dir=cache.parent))
    for template in [*outdir.glob("assembly-*/*.template.json"), *outdir.glob("assembly-*/manifest.json")]:
        (staging / template.parent.name).mkdir(exist_ok=True)
        shutil.copy(template, staging / template.parent.name / template.name)
    _publish(staging, cache)


def synthesized_stages(context: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The stack templates of each environment's stage, by stage name (`<project>-<env>`)."""
    cache = _cache(context)
    cache.parent.mkdir(parents=True, exist_ok=True)
    with (cache.parent / f"{cache.name}.lock").open("w") as lock:
        # Test processes that need the same templates at once wait for one synth rather than each running their own.
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not cache.is_dir():
            _synthesize(context, cache)
    return {
        assembly.name.removeprefix("assembly-"): _templates(assembly) for assembly in sorted(cache.glob("assembly-*"))
    }


def _synthesize(context: dict[str, Any], cache: Path) -> None:
    staging = Path(tempfile.mkdtemp(prefix="synth-", dir=cache.parent))
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    synth = subprocess.run(
        [sys.executable, "-c", _SYNTH, json.dumps(context), str(staging)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
    )
    if synth.returncode:
        raise RuntimeError(f"synth for the IAM evaluation failed:\n{synth.stderr[-3000:]}")
    _publish(staging, cache)


def _templates(assembly: Path) -> list[dict[str, Any]]:
    """The stage's templates, each with its stack's name (CloudFormation names unnamed resources after it)."""
    artifacts = json.loads((assembly / "manifest.json").read_text())["artifacts"]
    templates = []
    for artifact_id, artifact in sorted(artifacts.items()):
        if artifact["type"] == "aws:cloudformation:stack":
            template = json.loads((assembly / artifact["properties"]["templateFile"]).read_text())
            templates.append({**template, STACK_NAME: artifact["properties"].get("stackName", artifact_id)})
    return templates


def policy_world(context: dict[str, Any], region: str, bindings: dict[str, str] | None = None) -> PolicyWorld:
    """All environments of the app in one account (the configuration's environments share moto's account)."""
    return PolicyWorld(synthesized_templates(context), region, ACCOUNT, bindings)


def codebuild_role(world: PolicyWorld, naming: Naming, project: str) -> str:
    """The service role of the environment's CodeBuild project `project` (e.g. "train", "deploy")."""
    return world.role(project_name=naming.resource(project)).arn


def lambda_role(world: PolicyWorld, naming: Naming, function: Function) -> str:
    """The execution role of the environment's Lambda function `function`."""
    return world.role(function_name=naming.function(function)).arn


def gateway_task_role(world: PolicyWorld, naming: Naming) -> str:
    return world.role(task_family=naming.resource("gateway")).arn


def role(world: PolicyWorld, name: str) -> Principal:
    return world.role(role_name=name)


def without_action(world: PolicyWorld, principal: str, action: str) -> PolicyWorld:
    """`world` with `action` taken out of every identity policy statement of role `principal` (ARN): what the
    templates would be had that grant been forgotten, for tests that show a missing grant is caught."""
    templates = copy.deepcopy(world.templates)
    changed = PolicyWorld(templates, world.region, world.account)
    changed.bindings.update(world.bindings)
    removed = False
    for template in templates:
        for logical_id, resource in template.get("Resources", {}).items():
            if resource["Type"] != "AWS::IAM::Role" or changed._attribute(template, logical_id, "Arn") != principal:
                continue
            documents = [policy["PolicyDocument"] for policy in resource["Properties"].get("Policies", [])]
            documents += [
                policy["Properties"]["PolicyDocument"]
                for policy in template["Resources"].values()
                if policy["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
                and {"Ref": logical_id} in policy["Properties"].get("Roles", [])
            ]
            for document in documents:
                for statement in document["Statement"]:
                    listed = statement.get("Action", [])
                    listed = [listed] if isinstance(listed, str) else listed
                    if action in listed:
                        statement["Action"] = [granted for granted in listed if granted != action]
                        removed = True
    if not removed:
        raise LookupError(f"{principal} has no statement granting {action}")
    return changed
