from __future__ import annotations

import json
from dataclasses import replace

import pytest

from safedeploy.trust.release_manifest import ForwardHop, ReleaseManifest

MANIFEST = ReleaseManifest(
    model_package_arn="arn:aws:sagemaker:ap-northeast-2:123456789012:model-package/demo-dev-models/3",
    source_commit="0123abcd",
    metrics={"auc": 0.91, "f1": 0.7},
    approved_by="arn:aws:sts::123456789012:assumed-role/MlApprover/alice",
    promoted_by="arn:aws:sts::123456789012:assumed-role/ReleaseManager/bob",
    pipeline_execution_id="11111111-2222-3333-4444-555555555555",
    promoted_at="2026-01-01T10:00:00+00:00",
    model_sha256="a" * 64,
    evaluation_sha256="b" * 64,
    tooling_sha256="c" * 64,
)


def test_a_manifest_survives_the_round_trip_through_json() -> None:
    assert ReleaseManifest.from_json(MANIFEST.to_json()) == MANIFEST


def test_the_json_names_every_field_prod_needs() -> None:
    assert json.loads(MANIFEST.to_json()) == {
        "model_package_arn": MANIFEST.model_package_arn,
        "source_commit": "0123abcd",
        "metrics": {"auc": 0.91, "f1": 0.7},
        "approved_by": MANIFEST.approved_by,
        "promoted_by": MANIFEST.promoted_by,
        "pipeline_execution_id": MANIFEST.pipeline_execution_id,
        "promoted_at": "2026-01-01T10:00:00+00:00",
        "model_sha256": "a" * 64,
        "evaluation_sha256": "b" * 64,
        "tooling_sha256": "c" * 64,
        "schema_version": 2,
    }


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"approved_by": ""}, "must be non-empty strings: approved_by"),
        ({"model_package_arn": "demo-dev-models/3"}, "is not a package ARN"),
        ({"metrics": {"auc": "high"}}, "metric auc must be a finite number"),
        ({"promoted_at": "yesterday"}, "promoted_at 'yesterday' is not an ISO 8601 time"),
        ({"schema_version": 1}, "schema_version 1 is not 2"),
        ({"model_sha256": "abc"}, "must be hex sha256 digests: model_sha256"),
    ],
)
def test_an_invalid_manifest_names_the_field(changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        replace(MANIFEST, **changes)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "release.json is not valid JSON"),
        ("[]", "release.json must hold a JSON object, got list"),
        ('{"model_package_arn": "arn:x"}', r"missing \['approved_by'"),
    ],
)
def test_a_damaged_release_file_is_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ReleaseManifest.from_json(text)


def test_an_unknown_field_is_refused_rather_than_ignored() -> None:
    data = {**json.loads(MANIFEST.to_json()), "skip_approval": True}

    with pytest.raises(ValueError, match=r"missing none, unknown \['skip_approval'\]"):
        ReleaseManifest.from_json(json.dumps(data))


def test_a_forwarded_manifest_keeps_its_hops_and_refuses_malformed_ones() -> None:
    hop = ForwardHop("demo-staging", "arn:aws:sts::1:assumed-role/A/ann", "arn:aws:sts::1:assumed-role/B/bob", "e-2",
                     "2026-01-02T10:00:00+00:00")  # fmt: skip
    forwarded = replace(MANIFEST, forwarded_by=(hop,))
    assert ReleaseManifest.from_json(forwarded.to_json()) == forwarded
    assert "forwarded_by" not in json.loads(MANIFEST.to_json())  # a first promotion's file is unchanged
    broken = {**json.loads(forwarded.to_json()), "forwarded_by": [{"repository": "demo-staging"}]}
    with pytest.raises(ValueError, match="forwarded_by entries must be objects with exactly"):
        ReleaseManifest.from_json(json.dumps(broken))
