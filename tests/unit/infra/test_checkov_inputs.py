"""checkov reads copies of the templates named after their stacks, whose paths cannot look like an AWS secret key."""

from __future__ import annotations

import json
import re
from pathlib import Path

from infra.checkov_inputs import stage_templates
from safedeploy.naming import Naming, StackPurpose

# checkov's AWS secret-access-key pattern (checkov/common/util/secrets.py), which its Lambda check CKV_AWS_45 applies
# to the template path it records beside the environment variables.
SECRET_KEY = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])")


def _cloud_assembly(root: Path, stage: str, stacks: dict[str, str]) -> None:
    assembly = root / f"assembly-{stage}"
    assembly.mkdir(parents=True)
    artifacts = {}
    for stack_id, stack_name in stacks.items():
        (assembly / f"{stack_id}.template.json").write_text(json.dumps({"Resources": {"R": {"Type": stack_id}}}))
        artifacts[stack_id] = {
            "type": "aws:cloudformation:stack",
            "properties": {"templateFile": f"{stack_id}.template.json", "stackName": stack_name},
        }
    artifacts["tree"] = {"type": "cdk:tree", "properties": {"file": "tree.json"}}
    (assembly / "manifest.json").write_text(json.dumps({"artifacts": artifacts}))


def test_the_staging_template_that_matched_the_pattern_is_read_under_its_stack_name(tmp_path: Path) -> None:
    """`staging/mymlopsstagingguardrails7D4508F6` is 40 such characters: checkov reported a hard-coded secret."""
    assert SECRET_KEY.search("/cdk.out/assembly-my-mlops-staging/mymlopsstagingguardrails7D4508F6.template.json")
    _cloud_assembly(tmp_path, "my-mlops-staging", {"mymlopsstagingguardrails7D4508F6": "my-mlops-staging-guardrails"})

    (copy,) = stage_templates(tmp_path)

    assert copy == tmp_path / "checkov" / "my-mlops-staging-guardrails.template.json"
    assert json.loads(copy.read_text()) == {"Resources": {"R": {"Type": "mymlopsstagingguardrails7D4508F6"}}}
    assert not SECRET_KEY.search(f"/cdk.out/checkov/{copy.name}")


def test_no_stack_name_of_the_longest_project_can_match() -> None:
    project = "a" * 26  # PROJECT_PATTERN's longest name, with no hyphen to break it
    for purpose in StackPurpose:
        name = Naming(project, "staging").resource(purpose)
        assert not SECRET_KEY.search(f"/cdk.out/checkov/{name}.template.json"), name
