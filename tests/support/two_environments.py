"""A training environment (dev) and the one it promotes to (prod) on a moto server, as their stacks leave them,
and their Deploy builds run as CodeBuild runs them: dev's from its checkout, prod's from its own buildspec with only
the production repository (release.json) as its source."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from safedeploy.guardrails.settings import DeploymentSettings, GuardrailParameter
from safedeploy.parameters import Param, parameter_name
from stacks.pipeline.release_buildspec import release_buildspec
from testbed import iam_enforcement, iam_world
from testbed.aws import REGION, MotoServer
from testbed.deploy_world import CONTRACT, FAST
from testbed.evidence import ensure_bucket
from testbed.iam_eval import PolicyWorld
from tests.support.configuration import two_environments

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "demo"


@dataclass(frozen=True)
class Environment:
    name: str
    bucket: str
    key_arn: str

    @property
    def group(self) -> str:
        return f"{PROJECT}-{self.name}-models"

    @property
    def endpoint(self) -> str:
        return f"{PROJECT}-{self.name}-endpoint"


def provision(server: MotoServer, name: str) -> Environment:
    s3, kms, ssm = server.client("s3"), server.client("kms"), server.client("ssm")
    environment = Environment(
        name, f"{PROJECT}-{name}-artifacts", kms.create_key(Description=f"{PROJECT}-{name}")["KeyMetadata"]["Arn"]
    )
    ensure_bucket(s3, environment.bucket)
    s3.put_bucket_versioning(Bucket=environment.bucket, VersioningConfiguration={"Status": "Enabled"})
    settings = DeploymentSettings.from_mapping({**FAST, "canary": {"require_power": False}})
    guardrails = GuardrailParameter(settings, [f"{PROJECT}-{name}-canary-verdict"])
    values = {
        Param.ENDPOINT_NAME: environment.endpoint,
        Param.SAGEMAKER_EXECUTION_ROLE_ARN: f"arn:aws:iam::123456789012:role/{PROJECT}-{name}-sagemaker-execution",
        Param.DEPLOYMENT_CONFIG: guardrails.to_json(),
        Param.MODEL_PACKAGE_GROUP: environment.group,
        Param.ARTIFACTS_BUCKET: environment.bucket,
        Param.KMS_KEY_ARN: environment.key_arn,
        Param.SERVING_CONTRACT: CONTRACT.to_json(),
    }
    for key, value in values.items():
        ssm.put_parameter(Name=parameter_name(PROJECT, name, key), Value=value, Type="String", Overwrite=True)
    return environment


def policy_world(bindings: dict[str, str]) -> PolicyWorld:
    """The templates of project PROJECT (the tests' own dev -> prod otherwise), every test of it sharing one synth."""
    return iam_world.policy_world(two_environments(PROJECT), REGION, bindings)


def bindings(*environments: Environment) -> dict[str, str]:
    """What CloudFormation would have named, by the SSM parameter the storage stack publishes it under."""
    return {
        parameter_name(PROJECT, env.name, key): value
        for env in environments
        for key, value in ((Param.ARTIFACTS_BUCKET, env.bucket), (Param.KMS_KEY_ARN, env.key_arn))
    }


@dataclass(frozen=True)
class Build:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def refusal(self) -> str:
        """The one line a refused build ends with."""
        lines = [line for line in self.stderr.splitlines() if "refused:" in line]
        return lines[-1] if lines else ""


def run_build(server: MotoServer, buildspec: dict[str, Any], source_dir: Path, **variables: str) -> Build:
    """The build phase's commands, each in its own bash, stopping at the first failure (CodeBuild's semantics), as
    the environment's Deploy project's role when policies are in force (`policies_in_force`)."""
    environment = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(source_dir),
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_REGION": REGION,
        "SAFEDEPLOY_POLL_SECONDS": "0",
        "CODEBUILD_SRC_DIR": str(source_dir),
        **server.environment(),
        **(
            iam_enforcement.as_codebuild_project(f"{variables['PROJECT']}-{variables['ENV']}-deploy")
            if {"PROJECT", "ENV"} <= variables.keys()
            else {}
        ),
        **variables,
    }
    stdout, stderr = [], []
    for command in buildspec["phases"]["build"]["commands"]:
        done = subprocess.run(
            ["bash", "-c", command], env=environment, cwd=source_dir, capture_output=True, text=True, timeout=300
        )
        stdout.append(done.stdout)
        stderr.append(done.stderr)
        if done.returncode != 0:
            return Build(done.returncode, "".join(stdout), "".join(stderr))
    return Build(0, "".join(stdout), "".join(stderr))


def dev_deploy(server: MotoServer, checkout: Path, package_arn: str) -> Build:
    """dev's Deploy: buildspec-deploy.yml of its checkout with the Train action's MODEL_PACKAGE_ARN."""
    buildspec = yaml.safe_load((ROOT / "buildspec-deploy.yml").read_text())
    return run_build(server, buildspec, checkout, PROJECT=PROJECT, ENV="dev", MODEL_PACKAGE_ARN=package_arn)


def prod_deploy(server: MotoServer, release_repository: Path, source: Environment) -> Build:
    """prod's Deploy: the project's own buildspec, its only source the production repository."""
    return run_build(
        server,
        release_buildspec(),
        release_repository,
        PROJECT=PROJECT,
        ENV="prod",
        SOURCE_ENV=source.name,
        SOURCE_ARTIFACTS_BUCKET=source.bucket,
    )
