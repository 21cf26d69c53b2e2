"""`make synth` output: jsii's byte-string Node banner and the feature-flag count become one line each."""

from __future__ import annotations

from pathlib import Path

from infra.synth_output import filtered

BANNER = (Path(__file__).parent / "jsii_node_banner.txt").read_text().splitlines()


def test_the_node_banner_becomes_one_line_naming_the_supported_versions() -> None:
    lines = list(filtered(["npx cdk synth", *BANNER, "Bundling asset x..."]))
    assert lines == [
        "npx cdk synth",
        "note: Node.js v20.20.2 is end-of-life for the CDK's jsii runtime; install Node.js 22 or 24 "
        "(docs/getting-started.md)",
        "Bundling asset x...",
    ]


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
