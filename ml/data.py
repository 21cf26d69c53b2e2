"""The example data set: its column layout, a seeded synthetic generator, and a strict CSV reader.

The layout is the Feature Group's (`f0`..`f7`, `label`): `f0` is an age-like number and `f1`..`f7` are 0/1 flags,
so the playbook's health-check row `25,1,0,1,0,0,1,1` is a valid input.
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FEATURES: tuple[str, ...] = tuple(f"f{index}" for index in range(8))
LABEL = "label"
COLUMNS: tuple[str, ...] = (*FEATURES, LABEL)
AGE_RANGE = (18, 80)
# How common each flag f1..f7 is, and how much it moves the log-odds of class 1 (some help, some hurt, one is noise).
FLAG_RATES = (0.5, 0.3, 0.4, 0.2, 0.35, 0.6, 0.25)
FLAG_EFFECTS = (1.8, -1.4, 1.2, 1.5, 0.0, -0.9, 1.3)
AGE_EFFECT_PER_YEAR = -0.06
INTERCEPT = -0.6


@dataclass(frozen=True)
class Dataset:
    features: np.ndarray  # shape (rows, 8), float
    labels: np.ndarray  # shape (rows,), 0/1 int

    def __post_init__(self) -> None:
        if self.features.ndim != 2 or self.features.shape[1] != len(FEATURES):
            raise ValueError(f"features must have {len(FEATURES)} columns, got shape {self.features.shape}")
        if self.labels.shape != (self.features.shape[0],):
            raise ValueError(f"{self.features.shape[0]} feature rows but labels of shape {self.labels.shape}")
        if not np.isin(self.labels, (0, 1)).all():
            raise ValueError("labels must be 0 or 1")

    @property
    def rows(self) -> int:
        return int(self.labels.shape[0])


def generate(rows: int, seed: int) -> Dataset:
    """Draw `rows` records whose label follows a known logistic model, so a good classifier is measurably good."""
    if rows < 10:
        raise ValueError(f"rows must be at least 10, got {rows}")
    rng = np.random.default_rng(seed)
    age = rng.integers(AGE_RANGE[0], AGE_RANGE[1] + 1, size=rows)
    flags = (rng.random((rows, len(FLAG_RATES))) < np.array(FLAG_RATES)).astype(int)
    log_odds = INTERCEPT + AGE_EFFECT_PER_YEAR * (age - age.mean()) + flags @ np.array(FLAG_EFFECTS)
    labels = (rng.random(rows) < 1.0 / (1.0 + np.exp(-log_odds))).astype(int)
    return Dataset(np.column_stack([age, flags]).astype(float), labels)


def write_csv(dataset: Dataset, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for features, label in zip(dataset.features, dataset.labels, strict=True):
            writer.writerow([_number(value) for value in features] + [int(label)])
    return path


def write_sample(path: Path, *, rows: int, seed: int) -> Path:
    """The `model.sample_data` entry point named in cdk.json: training data when no other source is configured."""
    return write_csv(generate(rows, seed), path)


def read_csv(path: Path) -> Dataset:
    """Read a CSV with a header naming at least `f0`..`f7` and `label` (other columns are ignored)."""
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise ValueError(f"{path}: empty file; expected a header with {', '.join(COLUMNS)}")
        missing = [column for column in COLUMNS if column not in header]
        if missing:
            raise ValueError(f"{path}: missing columns {', '.join(missing)} (header: {', '.join(header)})")
        positions = [header.index(column) for column in COLUMNS]
        values = [_row_values(row, positions, path, line) for line, row in enumerate(reader, start=2) if row]
    if not values:
        raise ValueError(f"{path}: no data rows")
    table = np.array(values, dtype=float)
    if not np.isin(table[:, -1], (0, 1)).all():
        raise ValueError(f"{path}: column {LABEL} must hold only 0 and 1")
    return Dataset(table[:, :-1], table[:, -1].astype(int))


def _row_values(row: Sequence[str], positions: Sequence[int], path: Path, line: int) -> list[float]:
    try:
        return [float(row[position]) for position in positions]
    except (IndexError, ValueError) as error:
        raise ValueError(f"{path}:{line}: not a numeric row for {', '.join(COLUMNS)}: {row!r}") from error


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the seeded synthetic data set as CSV.")
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    print(write_csv(generate(args.rows, args.seed), args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
