"""The candidate's real traffic share: whole instances for capacity-sized steps, weights for A/B, copies for shadow."""

from __future__ import annotations

import pytest

from safedeploy.guardrails.endpoint_status import VariantState
from safedeploy.guardrails.settings import DeploymentSettings
from safedeploy.guardrails.traffic_share import (
    CAPACITY_PERCENT,
    INSTANCE_COUNT,
    TrafficShare,
    capacity_instances,
    weight_share,
)
from safedeploy.strategies import STRATEGIES
from safedeploy.strategies.linear import LINEAR


def traffic_share(strategy: str, instance_count: int, **sizes: object) -> TrafficShare:
    """The registered strategy's share on `instance_count` instances with these `endpoint` sizes."""
    settings = DeploymentSettings(strategy=STRATEGIES[strategy], instance_count=instance_count, **sizes)  # type: ignore[arg-type]
    return settings.traffic_share()


@pytest.mark.parametrize(
    ("capacity_type", "value", "instances", "expected"),
    [
        (CAPACITY_PERCENT, 10, 2, 1),  # at least one instance
        (CAPACITY_PERCENT, 10, 3, 1),
        (CAPACITY_PERCENT, 10, 20, 2),
        (CAPACITY_PERCENT, 50, 3, 1),  # rounded down: 2 of 3 would break the documented 50 % limit
        (CAPACITY_PERCENT, 25, 8, 2),
        (INSTANCE_COUNT, 2, 5, 2),
        (INSTANCE_COUNT, 9, 5, 5),
    ],
)
def test_capacity_instances(capacity_type: str, value: int, instances: int, expected: int) -> None:
    assert capacity_instances(capacity_type, value, instances) == expected


def test_capacity_type_must_be_documented() -> None:
    with pytest.raises(ValueError, match="not one of CAPACITY_PERCENT, INSTANCE_COUNT"):
        capacity_instances("PERCENT", 10, 2)


def test_ten_percent_canary_on_two_and_three_instances_is_a_half_and_a_third() -> None:
    dev, prod = traffic_share("canary", 2, canary_size_percent=10), traffic_share("canary", 3, canary_size_percent=10)
    assert (dev.first, dev.steps, dev.step_instances, dev.ratio) == (0.5, (0.5, 1.0), 1, 5.0)
    assert prod.first == pytest.approx(1 / 3) and prod.steps[-1] == 1.0
    assert traffic_share("canary", 10, canary_size_percent=10).first == pytest.approx(0.1)
    assert traffic_share("canary", 3).ratio == 1.0  # one instance by default, and its exact share intended


def test_linear_and_rolling_steps_are_whole_instances() -> None:
    linear = traffic_share("linear", 3, linear_step_percent=20)
    assert linear.steps == pytest.approx((1 / 3, 2 / 3, 1.0))
    rolling = traffic_share("rolling", 8, rolling_batch_percent=25)
    assert rolling.steps == pytest.approx((0.25, 0.5, 0.75, 1.0)) and rolling.ratio == pytest.approx(1.0)


def test_ab_follows_weights_and_shadow_is_a_copy() -> None:
    ab = traffic_share("ab", 2, ab_weights=(5, 25, 100))
    assert ab.steps == pytest.approx((0.05, 0.25, 1.0)) and ab.step_instances is None
    assert weight_share(25.0, 75.0) == 0.25 and weight_share(0.0, 0.0) == 0.0
    shadow = traffic_share("shadow", 2, shadow_sampling_percent=20)
    assert shadow.copy and shadow.first == 0.2 and shadow.observed_fraction == pytest.approx(0.2 / 1.2)


def test_the_strategy_share_reads_the_environment() -> None:
    share = DeploymentSettings(instance_count=3, strategy=LINEAR, linear_step_percent=40).traffic_share()
    assert share.describe() == (
        "linear: 1 of 3 instances per step = 33.3 % of traffic in the first bake (asked 40 %; steps 33, 67, 100 %)"
    )


def test_with_autoscaling_the_share_follows_the_live_fleet() -> None:
    """Scaled out to 4 instances, a one-instance canary is a quarter of the traffic, not the configured half."""
    planned = DeploymentSettings.from_mapping(
        {
            "instance_count": 2,
            "canary_size_instances": 1,
            "wait_interval_seconds": 600,
            "canary": {"require_power": False},
            "autoscaling": {"enabled": True, "min_instances": 2, "max_instances": 4},
        }
    )
    scaled = [VariantState("AllTraffic", 1.0, 4)]
    assert planned.traffic_share().first == 0.5
    assert planned.at_live_size(scaled, "AllTraffic").traffic_share().first == 0.25
    assert planned.at_live_size([VariantState("AllTraffic", 1.0, None)], "AllTraffic") is planned
