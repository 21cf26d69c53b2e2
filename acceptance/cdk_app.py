"""The CDK app of the scratch environment: `cdk deploy --app "<python> -m acceptance.cdk_app"`, with the scratch
environment's name in `ACCEPTANCE_ENV` and the environment it copies in `ACCEPTANCE_FROM` (default dev).

It is the project's own app (`app.build_app`, cdk-nag gate included) given a context whose only environment is the
scratch one, so what the suite deploys is what the project synthesizes.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import infra  # noqa: F401  (first: it explains jsii's Node.js banner before aws_cdk starts the runtime)

# isort: split
from aws_cdk import App

from acceptance.scratch import scratch_plan
from app import build_app
from safedeploy.errors import ConfigError

CDK_JSON = Path("cdk.json")


def main() -> None:
    context = json.loads(CDK_JSON.read_text())["context"]
    try:
        plan = scratch_plan(context, os.environ["ACCEPTANCE_ENV"], os.environ.get("ACCEPTANCE_FROM", "dev"))
        # After the CLI's context: cdk.json's environments give way to the scratch one alone.
        app = App(post_cli_context={"environments": plan.context["environments"]})
        build_app(app)
    except (KeyError, ValueError, ConfigError) as error:
        print(f"acceptance: {error}", file=sys.stderr)
        sys.exit(1)
    app.synth()


if __name__ == "__main__":
    main()
