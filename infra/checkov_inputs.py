"""The templates `make synth` gives checkov: copies named after their stacks, `cdk.out/checkov/<stack>.template.json`.

checkov records each template's path in what it parses, and its Lambda check (CKV_AWS_45) reads that record as one
more environment variable: a path holding 40 characters of [A-Za-z0-9/+=] in a row matches its AWS secret-key pattern.
CDK names templates after their stacks' ids (`mymlopsstagingguardrails7D4508F6`), so with `staging` the path's
`staging/mymlopsstagingguardrails7D4508F6` failed `make synth` with a "hard-coded secret". A stack name is the
project, the environment and the stack's purpose joined by hyphens, so no run in these names reaches 40 characters
(a project name has at most 26). Run as a file (it needs no CDK): `python infra/checkov_inputs.py cdk.out` prints
checkov's `--file` arguments.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

FOLDER = "checkov"


def stage_templates(cloud_assembly: Path) -> list[Path]:
    folder = cloud_assembly / FOLDER
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    copies = []
    for manifest in sorted(cloud_assembly.glob("assembly-*/manifest.json")):
        for artifact in json.loads(manifest.read_text())["artifacts"].values():
            if artifact["type"] != "aws:cloudformation:stack":
                continue
            properties = artifact["properties"]
            copy = folder / f"{properties['stackName']}.template.json"
            shutil.copyfile(manifest.parent / properties["templateFile"], copy)
            copies.append(copy)
    return copies


if __name__ == "__main__":
    print(" ".join(f"--file {path}" for path in stage_templates(Path(sys.argv[1]))))
