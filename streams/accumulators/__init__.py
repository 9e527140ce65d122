"""Mergeable, JSON-serializable accumulators: the arithmetic behind every KPI.

A state is a plain JSON list (ints, floats, strings and dicts with string keys only), so it
round-trips through orjson unchanged and can live in a changelog-backed Faust table. Every
accumulator offers the same five operations:

- ``new()``: an empty state;
- ``add(state, value, weight)``: fold one observation in; mutates ``state`` and returns it;
- ``merge(a, b)``: a fresh state equal to folding in everything of ``a`` then of ``b``;
  ``a`` and ``b`` are left untouched, ``merge(new(), x) == x``;
- ``merge_all(states)``: the same as merging ``states`` one by one into ``new()``, in one
  pass (closing a 1-hour window merges 60 panes);
- ``result(state, window_seconds)``: the KPI value, or None when the window has no value
  (then no KPI row is emitted);
- ``count(state)``: the number of observations.

Every state is a list whose first item is the number of observations (``count`` returns
``state[0]``).

Determinism: nothing depends on dict or set iteration order (dicts are walked in sorted key
order wherever floats are combined, or summed by ``math.fsum``, whose correctly rounded
result does not depend on the order), so the same observations added in the same order, and
the same panes merged in the same order, give bit-identical results in every run. Counts,
minima, maxima and sketch bins of unit weights are exact under any split or merge order;
float sums (sum, mean) are exact up to the usual rounding of a different summation order.

``per_key_completeness`` is keyed: callers use ``add_keyed(state, key, value, weight)``
(see :class:`KeyedAccumulator`); its plain ``add`` files the observation under key "".
"""

from __future__ import annotations

from typing import Final

from streams.accumulators.base import (
    EXPECTED_PER_MINUTE,
    SKETCH_RELATIVE_ACCURACY,
    Accumulator,
    KeyedAccumulator,
    State,
)
from streams.accumulators.completeness import PerKeyCompleteness
from streams.accumulators.quantile import Quantile
from streams.accumulators.scalar import Count, Max, Mean, MeanTimesWindowMinutes, Min, Sum

__all__ = [
    "ACCUMULATORS",
    "EXPECTED_PER_MINUTE",
    "SKETCH_RELATIVE_ACCURACY",
    "Accumulator",
    "Count",
    "KeyedAccumulator",
    "Max",
    "Mean",
    "MeanTimesWindowMinutes",
    "Min",
    "PerKeyCompleteness",
    "Quantile",
    "State",
    "Sum",
    "get_accumulator",
]


def _build() -> dict[str, Accumulator]:
    accs: list[Accumulator] = [
        Count(),
        Sum(),
        Mean(),
        MeanTimesWindowMinutes(),
        Min(),
        Max(),
        Quantile(0.5),
        Quantile(0.95),
        PerKeyCompleteness(),
    ]
    return {acc.name: acc for acc in accs}


ACCUMULATORS: Final[dict[str, Accumulator]] = _build()
"""Every accumulator by name: count, sum, mean, mean_x_window_minutes, min, max,
quantile:0.5, quantile:0.95, per_key_completeness."""


def get_accumulator(name: str) -> Accumulator:
    """The accumulator called ``name``; ``quantile:Q`` works for any Q in 0..1."""
    acc = ACCUMULATORS.get(name)
    if acc is not None:
        return acc
    if name.startswith("quantile:"):
        try:
            return Quantile(float(name.removeprefix("quantile:")))
        except ValueError as exc:
            raise KeyError(f"bad quantile accumulator name {name!r}: {exc}") from exc
    raise KeyError(f"unknown accumulator {name!r}; known: {', '.join(sorted(ACCUMULATORS))}")
