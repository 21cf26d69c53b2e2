"""Group-sequential z boundaries from a Lan-DeMets spending function (Lan and DeMets 1983).

At each look the boundary is the z whose crossing probability, among paths still running under H0, equals the
alpha the spending function releases between the previous fraction and this one. Fractions need not be equally
spaced or planned in advance, which is what lets a canary look whenever a planned share of its traffic has arrived.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

from safedeploy.stats.normal import upper_quantile
from safedeploy.stats.recursive_integration import ContinuationDensity
from safedeploy.stats.spending import cumulative_alpha, spending_function

# A canary analyses at most once a minute and bakes at most an hour, so no more looks than this can be planned or
# run; each look costs a numerical integration, and a plan of 10^9 looks ran for minutes.
MAX_LOOKS = 60
_NEWTON_TOLERANCE = 1e-10
_MAX_ITERATIONS = 100


def validate_fractions(information_fractions: Sequence[float]) -> tuple[float, ...]:
    fractions = tuple(float(value) for value in information_fractions)
    if not fractions:
        raise ValueError("information_fractions is empty: give at least one look")
    for index, value in enumerate(fractions):
        if not 0.0 < value <= 1.0:
            raise ValueError(f"information_fractions[{index}] = {value} is outside (0, 1]")
        if index and value <= fractions[index - 1]:
            raise ValueError(f"information_fractions must be strictly increasing; look {index + 1} is not")
    return fractions


def validate_looks(looks: object, name: str = "looks") -> int:
    if isinstance(looks, bool) or not isinstance(looks, int) or not 1 <= looks <= MAX_LOOKS:
        raise ValueError(f"{name} must be a whole number from 1 to {MAX_LOOKS}, got {looks!r}")
    return looks


def validate_alpha(alpha: float, name: str = "alpha") -> float:
    if not (isinstance(alpha, int | float) and 0.0 < alpha < 1.0):
        raise ValueError(f"{name} must be a number in (0, 1), got {alpha!r}")
    return float(alpha)


def validate_sides(sides: int) -> int:
    if sides not in (1, 2):
        raise ValueError(f"sides must be 1 or 2, got {sides!r}")
    return sides


def spending_boundaries(
    information_fractions: Sequence[float],
    alpha: float = 0.05,
    spending: str = "obf",
    sides: int = 2,
    spending_fractions: Sequence[float] | None = None,
) -> list[float]:
    """Upper z boundary per look (the lower one is its negative when sides=2); +inf where no alpha is spent.

    `spending_fractions` (default: the information fractions) is where the spending function is read, e.g. the
    elapsed share of a bake's planned minutes (calendar-time spending, Lan and DeMets 1989): alpha is then released
    by time, while the looks' correlation still comes from the information they actually hold. Only the ratios of
    the information fractions matter, so they may be given relative to the latest look.
    """
    fractions = validate_fractions(information_fractions)
    spent_at = fractions if spending_fractions is None else validate_fractions(spending_fractions)
    if len(spent_at) != len(fractions):
        raise ValueError("spending_fractions needs one value per look")
    spending_function(spending)
    return list(_cached_boundaries(fractions, validate_alpha(alpha), spending, validate_sides(sides), spent_at))


@lru_cache(maxsize=4096)
def _cached_boundaries(
    fractions: tuple[float, ...], alpha: float, spending: str, sides: int, spent_at: tuple[float, ...]
) -> tuple[float, ...]:
    """Cached because a verdict recomputes the same looks every minute of a bake."""
    spent = cumulative_alpha(spending, alpha / sides, list(spent_at))
    boundaries = [upper_quantile(spent[0])]
    state = ContinuationDensity.first_look(fractions[0], _lower_of(boundaries[0], sides), boundaries[0], 0.0)
    for k in range(1, len(fractions)):
        target = sides * (spent[k] - spent[k - 1])
        boundary = _solve_boundary(state, fractions[k], target, sides)
        boundaries.append(boundary)
        if k + 1 < len(fractions):
            state = state.advance(fractions[k], _lower_of(boundary, sides), boundary)
    return tuple(boundaries)


def _lower_of(boundary: float, sides: int) -> float:
    return -boundary if sides == 2 else -math.inf


def _solve_boundary(state: ContinuationDensity, fraction: float, target: float, sides: int) -> float:
    """Newton on log-probability, which is close to quadratic in the boundary, safeguarded by bisection."""
    if target <= 0.0:
        return math.inf
    log_target = math.log(target)
    low, high = (0.0 if sides == 2 else -10.0), upper_quantile(target / sides)
    boundary = high
    for _ in range(_MAX_ITERATIONS):
        probability, slope = state.symmetric_crossing(fraction, boundary, sides)
        if probability > target:
            low = boundary
        else:
            high = boundary
        step = (math.log(probability) - log_target) * probability / slope if probability > 0.0 > slope else math.nan
        if abs(step) < _NEWTON_TOLERANCE:
            return boundary - step
        if high - low < _NEWTON_TOLERANCE:
            return (low + high) / 2.0
        candidate = boundary - step
        boundary = candidate if low < candidate < high else (low + high) / 2.0
    raise ArithmeticError(f"boundary search did not converge at information fraction {fraction}")
