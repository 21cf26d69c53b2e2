"""What a canary verdict is fed: per-period aggregates per fleet, as CloudWatch GetMetricData returns them.

Raw requests never reach the engine. A count metric is events out of trials per period (errors out of invocations,
correct predictions out of feedback). A mean metric is per-period SampleCount and Average (or Sum), plus the sum of
squares when a publisher provides it. Periods are aligned across fleets and metrics (the caller fills a period with
no traffic with a zero count), and the last period is "now".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from safedeploy.errors import InputError
from safedeploy.stats.json_fields import json_mapping, json_number_list, json_object
from safedeploy.stats.normal import FloatArray

FLEETS = ("baseline", "candidate")


def _array(values: npt.ArrayLike) -> FloatArray:
    array = np.array(values, dtype=float).ravel()
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class CountSeries:
    """Per-period `events` out of `trials`."""

    events: FloatArray
    trials: FloatArray
    kind: str = field(default="proportion", init=False)

    def __post_init__(self) -> None:
        events, trials = _array(self.events), _array(self.trials)
        if events.shape != trials.shape:
            raise InputError(f"events has {events.size} periods but trials has {trials.size}")
        if not (np.all(np.isfinite(events)) and np.all(np.isfinite(trials))):
            raise InputError("events and trials must be finite numbers")
        if np.any(trials < 0) or np.any(events < 0) or np.any(events > trials):
            bad = int(np.argmax((trials < 0) | (events < 0) | (events > trials)))
            raise InputError(f"period {bad}: need 0 <= events <= trials, got {events[bad]} of {trials[bad]}")
        object.__setattr__(self, "events", events)
        object.__setattr__(self, "trials", trials)

    @property
    def periods(self) -> int:
        return int(self.trials.size)

    @classmethod
    def from_dict(cls, data: Any, where: str = "series") -> CountSeries:
        fields = json_object(data, where, required=("events", "trials"))
        return cls(
            json_number_list(fields["events"], f"{where}.events"), json_number_list(fields["trials"], f"{where}.trials")
        )

    def to_dict(self) -> dict[str, Any]:
        return {"events": self.events.tolist(), "trials": self.trials.tolist()}


@dataclass(frozen=True, eq=False)
class MeanSeries:
    """Per-period `sample_count` and `mean` (NaN where the count is 0), optionally `sum_of_squares` of the values.

    Without sums of squares the per-request variance is estimated from how the per-period means scatter, weighted
    by their counts (batch means); that also absorbs minute-to-minute drift, which makes the test conservative.
    """

    sample_count: FloatArray
    mean: FloatArray
    sum_of_squares: FloatArray | None = None
    kind: str = field(default="mean", init=False)

    def __post_init__(self) -> None:
        counts, means = _array(self.sample_count), _array(self.mean)
        if counts.shape != means.shape:
            raise InputError(f"sample_count has {counts.size} periods but mean has {means.size}")
        if not np.all(np.isfinite(counts)) or np.any(counts < 0):
            raise InputError("sample_count must be finite and non-negative")
        if not np.all(np.isfinite(means[counts > 0])):
            bad = int(np.argmax((counts > 0) & ~np.isfinite(means)))
            raise InputError(f"period {bad} has {counts[bad]} samples but no finite mean")
        object.__setattr__(self, "sample_count", counts)
        object.__setattr__(self, "mean", np.where(counts > 0, means, 0.0))
        if self.sum_of_squares is not None:
            squares = _array(self.sum_of_squares)
            if squares.shape != counts.shape or not np.all(np.isfinite(squares)) or np.any(squares < 0):
                raise InputError("sum_of_squares must have one finite, non-negative value per period")
            object.__setattr__(self, "sum_of_squares", squares)

    @property
    def periods(self) -> int:
        return int(self.sample_count.size)

    @classmethod
    def from_dict(cls, data: Any, where: str = "series") -> MeanSeries:
        """Accepts `mean` (CloudWatch Average) or `sum` (CloudWatch Sum) next to `sample_count`."""
        fields = json_object(data, where, required=("sample_count",), optional=("mean", "sum", "sum_of_squares"))
        if ("mean" in fields) == ("sum" in fields):
            raise InputError(f"{where} needs exactly one of 'mean' or 'sum'")
        counts = np.array(json_number_list(fields["sample_count"], f"{where}.sample_count"))
        if "mean" in fields:
            means = np.array(json_number_list(fields["mean"], f"{where}.mean", allow_null=True))
        else:
            sums = np.array(json_number_list(fields["sum"], f"{where}.sum"))
            if sums.shape != counts.shape:
                raise InputError(f"{where}: sum and sample_count must have the same number of periods")
            means = np.divide(sums, counts, out=np.full_like(sums, np.nan), where=counts > 0)
        squares = fields.get("sum_of_squares")
        return cls(counts, means, None if squares is None else json_number_list(squares, f"{where}.sum_of_squares"))

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "sample_count": self.sample_count.tolist(),
            "mean": [m if c > 0 else None for m, c in zip(self.mean.tolist(), self.sample_count.tolist(), strict=True)],
        }
        if self.sum_of_squares is not None:
            data["sum_of_squares"] = self.sum_of_squares.tolist()
        return data


@dataclass(frozen=True, eq=False)
class MedianSeries:
    """Per-period `sample_count` and `median` (CloudWatch's p50 extended statistic; NaN where the count is 0).

    Compared on the log scale minute by minute: a sample median does not chase the slow tail the way a mean does,
    and within a minute both fleets see the same load.
    """

    sample_count: FloatArray
    median: FloatArray
    kind: str = field(default="median", init=False)

    def __post_init__(self) -> None:
        counts, medians = _array(self.sample_count), _array(self.median)
        if counts.shape != medians.shape:
            raise InputError(f"sample_count has {counts.size} periods but median has {medians.size}")
        if not np.all(np.isfinite(counts)) or np.any(counts < 0):
            raise InputError("sample_count must be finite and non-negative")
        present = counts > 0
        if not np.all(np.isfinite(medians[present]) & (medians[present] > 0)):
            bad = int(np.argmax(present & ~(np.isfinite(medians) & (medians > 0))))
            raise InputError(f"period {bad} has {counts[bad]} samples but no positive median")
        object.__setattr__(self, "sample_count", counts)
        object.__setattr__(self, "median", np.where(present, medians, np.nan))

    @property
    def periods(self) -> int:
        return int(self.sample_count.size)

    @classmethod
    def from_dict(cls, data: Any, where: str = "series") -> MedianSeries:
        fields = json_object(data, where, required=("sample_count", "median"))
        counts = json_number_list(fields["sample_count"], f"{where}.sample_count")
        return cls(counts, json_number_list(fields["median"], f"{where}.median", allow_null=True))

    def to_dict(self) -> dict[str, Any]:
        pairs = zip(self.median.tolist(), self.sample_count.tolist(), strict=True)
        return {"sample_count": self.sample_count.tolist(), "median": [m if c > 0 else None for m, c in pairs]}


Series = CountSeries | MeanSeries | MedianSeries


@dataclass(frozen=True, eq=False)
class MetricObservations:
    baseline: Series
    candidate: Series

    def __post_init__(self) -> None:
        if type(self.baseline) is not type(self.candidate):
            raise InputError("baseline and candidate must be the same kind of series")
        if self.baseline.periods != self.candidate.periods:
            raise InputError(f"baseline has {self.baseline.periods} periods but candidate has {self.candidate.periods}")

    @property
    def kind(self) -> str:
        return self.baseline.kind

    @property
    def periods(self) -> int:
        return self.baseline.periods

    @classmethod
    def from_dict(cls, data: Any, where: str = "metric") -> MetricObservations:
        fields = json_object(data, where, required=FLEETS)
        series = {fleet: _series_from_dict(fields[fleet], f"{where}.{fleet}") for fleet in FLEETS}
        try:
            return cls(**series)
        except ValueError as error:
            raise InputError(f"{where}: {error}") from None

    def to_dict(self) -> dict[str, Any]:
        return {"baseline": self.baseline.to_dict(), "candidate": self.candidate.to_dict()}


def _series_from_dict(data: Any, where: str) -> Series:
    if isinstance(data, Mapping) and "events" in data:
        builder: type[CountSeries] | type[MeanSeries] | type[MedianSeries] = CountSeries
    elif isinstance(data, Mapping) and "median" in data:
        builder = MedianSeries
    elif isinstance(data, Mapping) and "sample_count" in data:
        builder = MeanSeries
    else:
        raise InputError(
            f"{where} needs 'events' and 'trials' (counts), 'sample_count' and 'mean' (a mean metric) "
            "or 'sample_count' and 'median' (a median metric)"
        )
    try:
        return builder.from_dict(data, where)
    except ValueError as error:
        message = str(error)
        raise InputError(message if message.startswith(where) else f"{where}: {message}") from None


@dataclass(frozen=True, eq=False)
class CanaryObservations:
    """Every guarded metric's two fleets over the same periods (one minute each in the Lambda)."""

    metrics: Mapping[str, MetricObservations]

    def __post_init__(self) -> None:
        lengths = {name: metric.periods for name, metric in self.metrics.items()}
        if len(set(lengths.values())) > 1:
            detail = ", ".join(f"{name}: {count}" for name, count in lengths.items())
            raise InputError(f"all metrics must cover the same periods, got {detail}")

    @property
    def periods(self) -> int:
        return next(iter(self.metrics.values())).periods if self.metrics else 0

    @classmethod
    def from_dict(cls, data: Any, where: str = "observations") -> CanaryObservations:
        fields = json_object(data, where, required=("metrics",))
        metrics = json_mapping(fields["metrics"], f"{where}.metrics")
        return cls(
            {name: MetricObservations.from_dict(value, f"{where}.metrics.{name}") for name, value in metrics.items()}
        )

    def to_dict(self) -> dict[str, Any]:
        return {"metrics": {name: metric.to_dict() for name, metric in self.metrics.items()}}
