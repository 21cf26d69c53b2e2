"""Delivery orders and the minutes each took: a seeded generator (the sample data) and the CSV the Train build reads.

The CSV has a header with the five features and `label`, the minutes the delivery took (the Feature Store's target
column has that name whatever the model predicts).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FEATURES = ("distance_km", "items", "hour", "raining", "courier_load")
TARGET = "label"
COLUMNS = (*FEATURES, TARGET)
RUSH_HOURS = (11, 12, 13, 18, 19, 20)


@dataclass(frozen=True)
class Orders:
    features: np.ndarray  # one row per order, FEATURES in order
    minutes: np.ndarray


def generate(rows: int, seed: int) -> Orders:
    """Minutes grow with distance, items, rain, the courier's load and rush hours, plus noise of 3 minutes."""
    rng = np.random.default_rng(seed)
    distance = rng.gamma(2.0, 2.0, rows)
    items = rng.poisson(2.0, rows) + 1
    hour = rng.integers(8, 23, rows)
    raining = (rng.random(rows) < 0.2).astype(float)
    load = rng.random(rows)
    rush = np.isin(hour, RUSH_HOURS).astype(float)
    minutes = 8 + 4.5 * distance + 1.2 * items + 6 * raining + 10 * load + 5 * rush + rng.normal(0, 3, rows)
    features = np.column_stack([distance, items, hour, raining, load]).astype(float)
    return Orders(features, np.maximum(minutes, 1.0))


def write_sample(path: Path, *, rows: int, seed: int) -> Path:
    """The `model.sample_data` entry point: training data when no other source is configured."""
    orders = generate(rows, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for row, minutes in zip(orders.features, orders.minutes, strict=True):
            writer.writerow([*(f"{value:.6g}" for value in row), f"{minutes:.3f}"])
    return path


def read_csv(path: Path) -> Orders:
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [column for column in COLUMNS if column not in (reader.fieldnames or ())]
        if missing:
            raise ValueError(f"{path}: missing columns {', '.join(missing)} (expected {', '.join(COLUMNS)})")
        rows = [[float(record[column]) for column in COLUMNS] for record in reader]
    if not rows:
        raise ValueError(f"{path}: no rows")
    table = np.array(rows)
    return Orders(table[:, :-1], table[:, -1])
