"""Canary statistics engine: sequential decisions with controlled error, sample-size planning, fixed tests.

Everything on the canary-analysis Lambda's path (verdicts, boundaries, mSPRT, planning, z and proportion tests)
needs numpy and the standard library only; `welch_t_test` and `mann_whitney` load scipy when called.
"""

from safedeploy.stats.boundaries import spending_boundaries
from safedeploy.stats.fixed_tests import two_proportion_test, z_test
from safedeploy.stats.msprt import always_valid_p_values, msprt_p_value
from safedeploy.stats.observations import (
    CanaryObservations,
    CountSeries,
    MeanSeries,
    MedianSeries,
    MetricObservations,
)
from safedeploy.stats.planning import CanaryPlan, GroupSequentialDesign, group_sequential_design, plan_canary
from safedeploy.stats.policy import CanaryPolicy, MetricPolicy
from safedeploy.stats.recursive_integration import exit_probabilities
from safedeploy.stats.results import ComparisonResult
from safedeploy.stats.sample_size import sample_size_means, sample_size_proportions
from safedeploy.stats.scipy_tests import mann_whitney, welch_t_test
from safedeploy.stats.verdict import Verdict, canary_verdict

__all__ = [
    "CanaryObservations",
    "CanaryPlan",
    "CanaryPolicy",
    "ComparisonResult",
    "CountSeries",
    "GroupSequentialDesign",
    "MeanSeries",
    "MedianSeries",
    "MetricObservations",
    "MetricPolicy",
    "Verdict",
    "always_valid_p_values",
    "canary_verdict",
    "exit_probabilities",
    "group_sequential_design",
    "mann_whitney",
    "msprt_p_value",
    "plan_canary",
    "sample_size_means",
    "sample_size_proportions",
    "spending_boundaries",
    "two_proportion_test",
    "welch_t_test",
    "z_test",
]
