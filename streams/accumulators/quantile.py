"""Quantiles from a mergeable DDSketch-style sketch (1 % relative accuracy)."""

from __future__ import annotations

import functools
import math
from typing import Final

from ddsketch.mapping import LogarithmicMapping

from streams.accumulators.base import SKETCH_RELATIVE_ACCURACY, State

_MAPPING: Final = LogarithmicMapping(SKETCH_RELATIVE_ACCURACY)
_MULTIPLIER: Final[float] = _MAPPING._multiplier
_MIN_POSITIVE: Final[float] = _MAPPING.min_possible
_log = math.log
_ceil = math.ceil


def _sketch_key(magnitude: float) -> str:
    """The DDSketch bin of a positive value (same formula as LogarithmicMapping.key)."""
    return str(_ceil(_log(magnitude, 2) * _MULTIPLIER))


@functools.lru_cache(maxsize=4096)
def _bin_value(key: int) -> float:
    """The value DDSketch reports for bin ``key`` (cached: a pure function of the key)."""
    return float(_MAPPING.value(key))


def _merge_bins(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    out = dict(a)
    for key, weight in b.items():
        out[key] = out.get(key, 0.0) + weight
    return out


def _key_at_rank(bins: dict[str, float], rank: float, lower: bool) -> int:
    """DDSketch's ``Store.key_at_rank`` over a sparse bin dict."""
    keys = sorted(int(k) for k in bins)
    running = 0.0
    for key in keys:
        running += bins[str(key)]
        if (lower and running > rank) or (not lower and running >= rank + 1):
            return key
    return keys[-1]


class Quantile:
    """DDSketch quantile (relative accuracy 1 %), bins compatible with ``ddsketch.DDSketch``.

    State: ``[n, total_weight, zero_weight, positive_bins, negative_bins]`` where the bins
    are ``{str(LogarithmicMapping key): weight}``. Merging adds bin weights, so the merge of
    serialized states equals the sketch of all values; the result is the value the
    ``ddsketch`` library returns for the same observations.
    """

    def __init__(self, q: float) -> None:
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"quantile must be within 0..1, got {q}")
        self.q = q
        self.name = f"quantile:{q:g}"

    def new(self) -> State:
        """An empty state."""
        return [0, 0.0, 0.0, {}, {}]

    def add(self, state: State, value: float, weight: float = 1.0) -> State:
        """Add ``weight`` to the bin of ``value``."""
        if value > _MIN_POSITIVE:
            bins: dict[str, float] = state[3]
            key = _sketch_key(value)
            bins[key] = bins.get(key, 0.0) + weight
        elif value < -_MIN_POSITIVE:
            bins = state[4]
            key = _sketch_key(-value)
            bins[key] = bins.get(key, 0.0) + weight
        else:
            state[2] += weight
        state[0] += 1
        state[1] += weight
        return state

    def merge(self, a: State, b: State) -> State:
        """Bin-wise sum of weights."""
        return [
            a[0] + b[0],
            a[1] + b[1],
            a[2] + b[2],
            _merge_bins(a[3], b[3]),
            _merge_bins(a[4], b[4]),
        ]

    def merge_all(self, states: list[State]) -> State:
        """Bin-wise sum of weights over all states, added in order."""
        n, total, zero = 0, 0.0, 0.0
        positive: dict[str, float] = {}
        negative: dict[str, float] = {}
        positive_get, negative_get = positive.get, negative.get
        for state in states:
            n += state[0]
            total += state[1]
            zero += state[2]
            for key, weight in state[3].items():
                positive[key] = positive_get(key, 0.0) + weight
            if state[4]:
                for key, weight in state[4].items():
                    negative[key] = negative_get(key, 0.0) + weight
        return [n, total, zero, positive, negative]

    def result(self, state: State, window_seconds: float) -> float | None:
        """The approximate ``q`` quantile (DDSketch.get_quantile_value), None when empty."""
        total: float = state[1]
        if not state[0] or total <= 0:
            return None
        zero: float = state[2]
        negative: dict[str, float] = state[4]
        positive: dict[str, float] = state[3]
        if not negative and not zero and len(positive) == 1:
            # one bin holds every observation: any rank falls in it
            return _bin_value(int(next(iter(positive))))
        negative_total = math.fsum(negative.values())
        rank = self.q * (total - 1)
        if rank < negative_total:
            key = _key_at_rank(negative, negative_total - rank - 1, lower=False)
            return -_bin_value(key)
        if rank < zero + negative_total:
            return 0.0
        return _bin_value(_key_at_rank(state[3], rank - zero - negative_total, True))

    def count(self, state: State) -> int:
        """Number of observations."""
        n: int = state[0]
        return n

    def weight(self, state: State, window_seconds: float) -> float:
        """Number of observations."""
        return float(state[0])
