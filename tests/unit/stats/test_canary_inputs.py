"""Observations and policy from plain JSON: round trips and errors that name the offending field."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from safedeploy.stats import CanaryObservations, CanaryPolicy, CountSeries, MeanSeries, MetricObservations, MetricPolicy


def observations_document() -> dict[str, Any]:
    return {
        "metrics": {
            "error_rate": {
                "baseline": {"events": [1, 0, 2], "trials": [90, 0, 110]},
                "candidate": {"events": [0, 0, 1], "trials": [10, 0, 12]},
            },
            "latency_ms": {
                "baseline": {"sample_count": [90, 0, 110], "mean": [120.5, None, 118.0]},
                "candidate": {"sample_count": [10, 0, 12], "sum": [1300.0, 0.0, 1500.0]},
            },
        },
    }


def test_observations_round_trip_through_json() -> None:
    observations = CanaryObservations.from_dict(observations_document())
    again = CanaryObservations.from_dict(observations.to_dict())
    latency = again.metrics["latency_ms"]
    assert isinstance(latency.candidate, MeanSeries)
    assert latency.candidate.mean.tolist() == [130.0, 0.0, 125.0]
    assert again.to_dict()["metrics"]["latency_ms"]["baseline"]["mean"] == [120.5, None, 118.0]
    assert again.metrics["error_rate"].kind == "proportion"
    assert again.periods == 3


def test_cloudwatch_sum_and_average_give_the_same_series() -> None:
    by_sum = MeanSeries.from_dict({"sample_count": [4, 0], "sum": [10.0, 0.0]})
    by_mean = MeanSeries.from_dict({"sample_count": [4, 0], "mean": [2.5, None]})
    assert np.array_equal(by_sum.mean, by_mean.mean)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["metrics"]["error_rate"]["baseline"].update(events=[1, 0, 200]), r"period 2: need 0 <= events"),
        (lambda d: d["metrics"]["error_rate"]["candidate"].update(trials=[10, 0]), "events has 3 periods but trials"),
        (lambda d: d["metrics"]["error_rate"]["candidate"].update(trails=[1]), r"unknown field.*'trails'"),
        (lambda d: d["metrics"]["latency_ms"]["baseline"].update(mean=[1.0, None, None]), "period 2 has 110.0 samples"),
        (lambda d: d["metrics"]["latency_ms"]["baseline"].update(mean=[1, "x", 2]), r"baseline.mean\[1\] must be"),
        (lambda d: d["metrics"]["latency_ms"]["candidate"].pop("sum"), "needs exactly one of 'mean' or 'sum'"),
        (lambda d: d["metrics"]["latency_ms"].update(candidate={"events": [0, 0, 0], "trials": [1, 1, 1]}),
         "latency_ms: baseline and candidate must be the same kind"),
        (lambda d: d["metrics"]["latency_ms"].pop("candidate"), r"latency_ms is missing 'candidate'"),
        (lambda d: d["metrics"]["latency_ms"]["candidate"].update(mean=[1.0, None, 2.0]), "needs exactly one of"),
        (lambda d: d["metrics"]["error_rate"].update(
            baseline={"events": [0], "trials": [1]}, candidate={"events": [0], "trials": [1]}),
         "all metrics must cover the same periods"),
        (lambda d: d.update(metrics=[]), "observations.metrics must be an object"),
    ],
)  # fmt: skip
def test_bad_observations_name_the_field(change: Any, message: str) -> None:
    document = observations_document()
    change(document)
    with pytest.raises(ValueError, match=message):
        CanaryObservations.from_dict(document)


def test_series_built_in_code_are_validated_too() -> None:
    with pytest.raises(ValueError, match="baseline has 2 periods but candidate has 1"):
        MetricObservations(CountSeries([0, 0], [1, 1]), CountSeries([0], [1]))
    with pytest.raises(ValueError, match="sample_count must be finite and non-negative"):
        MeanSeries([-1.0], [1.0])


def policy_document() -> dict[str, Any]:
    return {
        "family": "bonferroni",
        "metrics": {
            "error_rate": {"kind": "proportion", "harm": "increase", "margin": 0.005, "horizon": 5000},
            "accuracy": {"kind": "proportion", "harm": "decrease", "margin": 0.05, "margin_type": "relative",
                         "horizon": 900, "looks": 5, "spending": "pocock", "min_samples": 300},
        },
    }  # fmt: skip


def test_policy_round_trips_and_fills_defaults() -> None:
    policy = CanaryPolicy.from_dict(policy_document())
    assert CanaryPolicy.from_dict(policy.to_dict()) == policy
    assert policy.sequential == "group" and policy.when_inconclusive == "ROLLBACK"
    accuracy = policy.metrics["accuracy"]
    assert (accuracy.harm_sign, accuracy.absolute_margin(0.9)) == (-1.0, pytest.approx(0.045))
    assert policy.metrics["error_rate"].looks == 10


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["metrics"]["error_rate"].update(hrm="increase"), r"error_rate has unknown field\(s\) 'hrm'"),
        (lambda d: d["metrics"]["error_rate"].update(margin=0), "error_rate: margin must be a positive number"),
        (lambda d: d["metrics"]["error_rate"].update(harm="up"), "harm must be one of increase, decrease"),
        (lambda d: d["metrics"]["error_rate"].pop("horizon"), "need a horizon or horizon_minutes for: error_rate"),
        (lambda d: d["metrics"]["error_rate"].update(alpha=0.0), r"alpha must be a number in \(0, 1\)"),
        (lambda d: d["metrics"]["error_rate"].update(looks=0), "looks must be a whole number from 1 to 60"),
        (lambda d: d.update(family="sidak"), "family must be one of holm, bonferroni"),
        (lambda d: d.update(metrics={}), "policy.metrics is empty"),
        (lambda d: d["metrics"]["accuracy"].pop("kind"), r"accuracy is missing 'kind'"),
    ],
)
def test_bad_policies_name_the_setting(change: Any, message: str) -> None:
    document = policy_document()
    change(document)
    with pytest.raises(ValueError, match=message):
        CanaryPolicy.from_dict(document)


def test_an_msprt_policy_needs_no_horizon() -> None:
    metric = MetricPolicy(kind="mean", harm="increase", margin=5.0)
    assert CanaryPolicy({"latency_ms": metric}, sequential="msprt").metrics["latency_ms"].horizon is None
