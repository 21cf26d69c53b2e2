"""Numeric command-line arguments checked when they are parsed: a finite number in a stated range, or a one-line
usage error (exit 2) before any AWS call. `float()` alone takes `nan`, `inf` and `-1e308`, which failed later:
mid-run, after AWS calls, or as a traceback."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

# Status polls (deploy, rollback, teardown): rarer than hourly would leave a run silent for longer than it can take.
MAX_POLL_SECONDS = 3600


def number_in(low: float, high: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and low <= value <= high):
            raise argparse.ArgumentTypeError(f"must be a number from {low:g} to {high:g}, got {text!r}")
        return value

    return parse


def whole_number_in(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        digits = text.strip().removeprefix("-")
        # Bounded before int(): Python refuses to convert integers of more than 4300 digits.
        value = int(text) if digits.isascii() and digits.isdigit() and len(digits) <= 18 else None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be a whole number from {low} to {high}, got {text!r}")
        return value

    return parse
