"""Lan-DeMets alpha-spending functions: how much one-sided type-I error may be used up by information fraction t.

Both are the forms used by ldbounds (Reboussin et al. 2000) and gsDesign, so the boundaries they produce can be
checked against those packages' published tables. For a two-sided test each side spends alpha / 2.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

from safedeploy.stats.normal import upper_quantile, upper_tail_scalar

Spending = Literal["obf", "pocock"]
SPENDING_NAMES: tuple[Spending, ...] = ("obf", "pocock")


def obrien_fleming_spending(side_alpha: float, fraction: float) -> float:
    """Spends almost nothing early, so an early stop needs overwhelming evidence and the final look stays near z."""
    return 2.0 * upper_tail_scalar(upper_quantile(side_alpha / 2.0) / math.sqrt(fraction))


def pocock_spending(side_alpha: float, fraction: float) -> float:
    """Spends roughly evenly, trading a higher final boundary for a better chance to stop early."""
    return side_alpha * math.log1p((math.e - 1.0) * fraction)


_SPENDING_FUNCTIONS: dict[str, Callable[[float, float], float]] = {
    "obf": obrien_fleming_spending,
    "pocock": pocock_spending,
}


def spending_function(name: str) -> Callable[[float, float], float]:
    if not isinstance(name, str) or name not in _SPENDING_FUNCTIONS:
        raise ValueError(f"spending must be one of {', '.join(SPENDING_NAMES)}, got {name!r}")
    return _SPENDING_FUNCTIONS[name]


def cumulative_alpha(name: str, side_alpha: float, fractions: list[float]) -> list[float]:
    """One-sided alpha spent up to each fraction; the last fraction at 1 spends all of it."""
    function = spending_function(name)
    return [side_alpha if fraction >= 1.0 else function(side_alpha, fraction) for fraction in fractions]
