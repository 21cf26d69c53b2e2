from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ml import inference
from ml.data import AGE_RANGE, COLUMNS, FEATURES, Dataset, generate, read_csv, write_csv

HEALTH_CHECK_ROW = "25,1,0,1,0,0,1,1"


def test_the_generator_is_reproducible_with_a_seed() -> None:
    first, again, other = generate(500, seed=7), generate(500, seed=7), generate(500, seed=8)

    np.testing.assert_array_equal(first.features, again.features)
    np.testing.assert_array_equal(first.labels, again.labels)
    assert not np.array_equal(first.features, other.features)


def test_generated_records_have_the_health_check_rows_layout() -> None:
    dataset = generate(2000, seed=1)

    age, flags = dataset.features[:, 0], dataset.features[:, 1:]
    assert age.min() >= AGE_RANGE[0] and age.max() <= AGE_RANGE[1]
    assert set(np.unique(flags)) == {0.0, 1.0}
    assert 0.3 < dataset.labels.mean() < 0.7, "both classes are common enough to learn and to measure"
    row = inference.input_fn(HEALTH_CHECK_ROW, "text/csv")
    assert row.shape == (1, len(FEATURES))
    assert AGE_RANGE[0] <= row[0, 0] <= AGE_RANGE[1] and set(row[0, 1:]) <= {0.0, 1.0}


def test_csv_round_trip_keeps_every_value(tmp_path: Path) -> None:
    dataset = generate(50, seed=3)

    loaded = read_csv(write_csv(dataset, tmp_path / "data.csv"))

    assert (tmp_path / "data.csv").read_text().splitlines()[0] == ",".join(COLUMNS)
    np.testing.assert_array_equal(loaded.features, dataset.features)
    np.testing.assert_array_equal(loaded.labels, dataset.labels)


def test_extra_columns_are_ignored_and_order_does_not_matter(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("label,record_id," + ",".join(FEATURES) + "\n1,r1," + HEALTH_CHECK_ROW + "\n")

    dataset = read_csv(path)

    assert dataset.labels.tolist() == [1]
    assert dataset.features.tolist() == [[25, 1, 0, 1, 0, 0, 1, 1]]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty file"),
        ("f0,f1,f2,f3,f4,f5,f6,label\n1,0,0,0,0,0,0,1\n", "missing columns f7"),
        (",".join(COLUMNS) + "\n", "no data rows"),
        (",".join(COLUMNS) + "\n25,1,0,1,0,0,1,yes,1\n", "data.csv:2: not a numeric row"),
        (",".join(COLUMNS) + "\n25,1,0,1,0,0,1,1,2\n", "column label must hold only 0 and 1"),
    ],
)
def test_a_malformed_csv_is_refused_with_what_is_wrong(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "data.csv"
    path.write_text(content)

    with pytest.raises(ValueError, match=message):
        read_csv(path)


def test_a_dataset_refuses_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="8 columns"):
        Dataset(np.zeros((3, 7)), np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match="3 feature rows"):
        Dataset(np.zeros((3, 8)), np.zeros(2, dtype=int))
