"""A model's reference distribution, computed once from its training data and carried by its model package.

Numbers get quantile bin edges (deciles by default) and the share of training rows in each bin; a column with few
distinct values is a category with its frequencies plus an `other` bucket for values training never saw. The model's
scores on held-out rows get the same treatment, so prediction drift is judged like any feature. Shares are
Laplace-smoothed (half a row per bin) so no bin has probability zero: a log ratio on an empty bin would be infinite.
The JSON is canonical (sorted keys, no spaces), so its sha256 names exactly one baseline.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from safedeploy.errors import InputError
from safedeploy.s3_layout import BASELINE_SCHEMA

CONTENT_TYPE = "application/json"
SCORE = "prediction_score"
OTHER = "other"
DEFAULT_BINS = 10
MAX_CATEGORIES = 20  # at most this many distinct training values makes a column categorical
# A numeric column also keeps this many equal-mass quantiles of its training values, so its training distribution
# can be re-expressed on another model's bins (training-serving skew) to within 1/SKETCH_STEPS of mass per edge.
SKETCH_STEPS = 500
_SMOOTHING = 0.5

Kind = Literal["numeric", "categorical"]


@dataclass(frozen=True)
class FeatureReference:
    """One column's bins: `edges` (numeric, interior edges, bin i holds edges[i-1] <= x < edges[i]) or
    `categories` (categorical, the last bin is `other`), and the smoothed training share of each bin."""

    name: str
    kind: Kind
    proportions: tuple[float, ...]
    rows: int
    edges: tuple[float, ...] = ()
    categories: tuple[str, ...] = ()
    quantiles: tuple[float, ...] = ()  # numeric: the training values' k/SKETCH_STEPS quantiles, k = 0..SKETCH_STEPS

    @property
    def bins(self) -> int:
        return len(self.proportions)

    def counts(self, values: npt.ArrayLike) -> np.ndarray:
        """How many of `values` fall in each bin; missing or unparseable numbers are left out."""
        return np.bincount(self.bin_indices(values), minlength=self.bins).astype(np.int64)

    def bin_indices(self, values: npt.ArrayLike) -> np.ndarray:
        """The bin of each present value (missing or unparseable ones are left out)."""
        if self.kind == "numeric":
            return np.searchsorted(np.asarray(self.edges, dtype=float), _finite(values), side="right")
        known = {category: position for position, category in enumerate(self.categories)}
        distinct, inverse = _distinct_keys(values)
        positions = np.array([known.get(key, len(self.categories)) for key in distinct], dtype=int)
        return positions[inverse]

    def to_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "proportions": list(self.proportions),
            "rows": self.rows,
        }
        if self.kind == "numeric":
            entry["edges"] = list(self.edges)
            if self.quantiles:
                entry["quantiles"] = list(self.quantiles)
        else:
            entry["categories"] = list(self.categories)
        return entry

    @classmethod
    def from_dict(cls, entry: Mapping[str, Any]) -> FeatureReference:
        try:
            reference = cls(
                name=str(entry["name"]),
                kind=entry["kind"],
                proportions=tuple(float(value) for value in entry["proportions"]),
                rows=int(entry["rows"]),
                edges=tuple(float(value) for value in entry.get("edges", ())),
                categories=tuple(str(value) for value in entry.get("categories", ())),
                quantiles=tuple(float(value) for value in entry.get("quantiles", ())),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise InputError(f"baseline feature {entry.get('name', '?')!r} is malformed: {error}") from None
        reference.validate()
        return reference

    def shares_on(self, other: FeatureReference) -> np.ndarray | None:
        """This column's training distribution on `other`'s bins (smoothed as the baseline smooths), or None when
        it cannot be expressed there (different kinds, or a numeric baseline without its quantile sketch)."""
        if self.kind != other.kind:
            return None
        if self.kind == "categorical":
            known = {category: position for position, category in enumerate(other.categories)}
            mass = np.zeros(other.bins)
            for category, share in zip((*self.categories, OTHER), self.proportions, strict=True):
                mass[known.get(category, len(other.categories))] += share
        else:
            if not self.quantiles:
                return None
            below = np.array([0.0, *(self._mass_below(edge) for edge in other.edges), 1.0])
            mass = np.diff(below)
        counts = mass * self.rows
        return (counts + _SMOOTHING) / (counts.sum() + _SMOOTHING * counts.size)

    def _mass_below(self, edge: float) -> float:
        """Share of training values below `edge`, interpolated in the quantile sketch (exact at its points)."""
        sketch = np.asarray(self.quantiles)
        if edge <= sketch[0]:
            return 0.0
        if edge > sketch[-1]:
            return 1.0
        k = int(np.searchsorted(sketch, edge, side="left"))  # sketch[k-1] < edge <= sketch[k]
        low, high = sketch[k - 1], sketch[k]
        fraction = 1.0 if high == edge else (edge - low) / (high - low)
        return float((k - 1 + fraction) / (sketch.size - 1))

    def validate(self) -> None:
        expected = len(self.edges) + 1 if self.kind == "numeric" else len(self.categories) + 1
        if self.kind not in ("numeric", "categorical"):
            raise InputError(f"baseline feature {self.name!r}: kind must be numeric or categorical, got {self.kind!r}")
        if self.bins != expected or self.bins < 2:
            raise InputError(f"baseline feature {self.name!r}: {self.bins} proportions for {expected} bins")
        if any(not p > 0.0 for p in self.proportions) or not math.isclose(sum(self.proportions), 1.0, abs_tol=1e-6):
            raise InputError(f"baseline feature {self.name!r}: proportions must be positive and sum to 1")


@dataclass(frozen=True)
class Baseline:
    rows: int
    features: tuple[FeatureReference, ...]
    score: FeatureReference | None

    def references(self) -> tuple[FeatureReference, ...]:
        """Every column the drift check judges: the features, then the prediction score."""
        return (*self.features, self.score) if self.score is not None else self.features

    def feature(self, name: str) -> FeatureReference:
        for reference in self.references():
            if reference.name == name:
                return reference
        raise KeyError(f"the baseline has no feature {name!r}")

    def to_json(self) -> bytes:
        document = {
            "schema": BASELINE_SCHEMA,
            "rows": self.rows,
            "features": [feature.to_dict() for feature in self.features],
            "score": self.score.to_dict() if self.score is not None else None,
        }
        return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, body: bytes | str) -> Baseline:
        try:
            document = json.loads(body)
        except json.JSONDecodeError as error:
            raise InputError(f"drift baseline is not JSON: {error}") from None
        if not isinstance(document, dict) or document.get("schema") != BASELINE_SCHEMA:
            raise InputError(f"not a drift baseline: expected schema {BASELINE_SCHEMA!r}")
        score = document.get("score")
        return cls(
            rows=int(document["rows"]),
            features=tuple(FeatureReference.from_dict(entry) for entry in document["features"]),
            score=FeatureReference.from_dict(score) if score else None,
        )


def sha256_digest(body: bytes) -> str:
    """The `sha256:<hex>` form SageMaker's MetricsSource.ContentDigest takes."""
    return "sha256:" + hashlib.sha256(body).hexdigest()


def compute_baseline(
    features: npt.ArrayLike,
    names: Sequence[str],
    scores: npt.ArrayLike | None = None,
    *,
    bins: int = DEFAULT_BINS,
    kinds: Mapping[str, Kind] | None = None,
) -> Baseline:
    """Reference distribution of each column of `features` (rows x len(names)) and of the model's `scores`."""
    table = np.asarray(features, dtype=float)
    if table.ndim != 2 or table.shape[1] != len(names):
        raise InputError(f"features must be rows x {len(names)} columns, got shape {table.shape}")
    if table.shape[0] < bins:
        raise InputError(f"a baseline needs at least {bins} rows, got {table.shape[0]}")
    kinds = kinds or {}
    references = tuple(
        reference(name, table[:, column], bins=bins, kind=kinds.get(name)) for column, name in enumerate(names)
    )
    score = reference(SCORE, scores, bins=bins, kind="numeric") if scores is not None else None
    return Baseline(rows=int(table.shape[0]), features=references, score=score)


def reference(
    name: str, values: npt.ArrayLike, *, bins: int = DEFAULT_BINS, kind: Kind | None = None
) -> FeatureReference:
    numbers = _finite(values)
    if numbers.size == 0:
        raise InputError(f"feature {name!r} has no finite training values")
    distinct = np.unique(numbers)
    if kind is None:
        kind = "categorical" if distinct.size <= MAX_CATEGORIES else "numeric"
    if kind == "categorical":
        categories = tuple(category_key(value) or "" for value in distinct)
        empty = FeatureReference(name, "categorical", (0.5,) * (len(categories) + 1), 0, categories=categories)
    else:
        quantiles = np.quantile(numbers, np.linspace(0.0, 1.0, bins + 1)[1:-1])
        edges = tuple(float(edge) for edge in np.unique(quantiles) if edge > distinct[0])
        empty = FeatureReference(name, "numeric", (0.5,) * (len(edges) + 1), 0, edges=edges)
    counts = empty.counts(numbers)
    shares = (counts + _SMOOTHING) / (counts.sum() + _SMOOTHING * counts.size)
    proportions = tuple(float(share) for share in shares)
    sketch = (
        tuple(float(q) for q in np.quantile(numbers, np.linspace(0.0, 1.0, SKETCH_STEPS + 1)))
        if kind == "numeric"
        else ()
    )
    built = FeatureReference(name, kind, proportions, int(numbers.size), empty.edges, empty.categories, sketch)
    built.validate()
    return built


def category_key(value: object) -> str | None:
    """One spelling per category, so 1, 1.0 and "1" from a CSV body are the same; None for a missing value."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        return text
    if not math.isfinite(number):
        return None
    return str(int(number)) if number.is_integer() else repr(number)


def _finite(values: npt.ArrayLike) -> np.ndarray:
    try:
        parsed = np.atleast_1d(np.asarray(values, dtype=float))
    except (TypeError, ValueError):  # text from a request body: parse one by one
        parsed = np.array([_number(value) for value in np.atleast_1d(np.asarray(values, dtype=object))], dtype=float)
    return parsed[np.isfinite(parsed)]


def _distinct_keys(values: npt.ArrayLike) -> tuple[list[str], np.ndarray]:
    """The distinct category keys of the present values, and each present value's position among them."""
    try:
        numbers = np.atleast_1d(np.asarray(values, dtype=float))
    except (TypeError, ValueError):
        keys = [
            key for key in (category_key(value) for value in np.atleast_1d(np.asarray(values, dtype=object))) if key
        ]
        distinct_text, inverse = np.unique(np.array(keys, dtype=str), return_inverse=True)
        return [str(key) for key in distinct_text], inverse.astype(int)
    distinct, inverse = np.unique(numbers[np.isfinite(numbers)], return_inverse=True)
    return [category_key(value) or "" for value in distinct], inverse.astype(int)


def _number(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
