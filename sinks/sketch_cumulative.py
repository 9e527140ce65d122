"""A quantile sketch as the boards merge it: cumulative bin weights in one float array.

A district row of a quantile KPI carries its window's sketch (``[n, total weight, zero
weight, positive bins, negative bins]``, bins ``{key: weight}``,
:mod:`streams.accumulators.quantile`). The sink also stores it as ``sketch_cumulative``
(migration 0010)::

    [n, total, zero, first positive key, positive keys, cumulative weights...,
     first negative key, negative keys, cumulative weights...]

with every key from the first to the last (an absent one repeats the weight below it).
The weight at or below a key is then one read per sketch, and the boards find the key of a
province quantile by a binary search (``ioc_sketch_cumulative_quantile``) instead of adding
and sorting every bin of every district.
"""

from __future__ import annotations

from itertools import accumulate
from typing import Any, Final

MAX_KEYS: Final = 4096
"""Keys one side may span (about 80 orders of magnitude at 1 % accuracy); a wider sketch
is stored only as JSON, which the boards merge the slower way."""


def cumulative(sketch: Any) -> list[float] | None:
    """``sketch`` in the cumulative layout above; None when a side spans more than
    ``MAX_KEYS`` keys (or for no sketch)."""
    if sketch is None:
        return None
    n, total, zero, positive, negative = sketch
    positive_side = _side(positive)
    negative_side = _side(negative)
    if positive_side is None or negative_side is None:
        return None
    return [float(n), float(total), float(zero), *positive_side, *negative_side]


def _side(bins: dict[str, float]) -> list[float] | None:
    """[first key, keys, cumulative weights...] of one side's bins ([0, 0] when empty)."""
    if not bins:
        return [0.0, 0.0]
    keys = [int(key) for key in bins]
    first, last = min(keys), max(keys)
    if last - first >= MAX_KEYS:
        return None
    dense = [0.0] * (last - first + 1)
    for key, weight in zip(keys, bins.values(), strict=True):
        dense[key - first] += weight
    return [float(first), float(len(dense)), *accumulate(dense)]
