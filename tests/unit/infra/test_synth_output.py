"""`make synth` output: the feature-flag count becomes one line, the stack-id hint is dropped."""

from __future__ import annotations

from infra.synth_output import filtered


def test_the_feature_flag_count_is_explained_and_the_stack_id_hint_dropped() -> None:
    lines = list(
        filtered(
            [
                "Supply a stack id () to display its template.",
                "78 feature flags are not configured. Run 'cdk flags --unstable=flags' to learn more.",
            ]
        )
    )
    assert len(lines) == 1 and lines[0].startswith("note: 78 newer CDK feature flags keep their defaults on purpose")


def test_everything_else_passes_unchanged() -> None:
    lines = ["[Warning at /my-mlops-dev/serving] HTTP only", "Successfully synthesized to cdk.out"]
    assert list(filtered(lines)) == lines
