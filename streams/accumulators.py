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

import functools
import math
from collections.abc import Iterator
from typing import Any, Final, Protocol, runtime_checkable

from ddsketch.mapping import LogarithmicMapping

State = list[Any]
"""A JSON list: ints, floats, strings, lists and dicts with string keys only."""

SKETCH_RELATIVE_ACCURACY: Final = 0.01
EXPECTED_PER_MINUTE: Final = 1.0


@runtime_checkable
class Accumulator(Protocol):
    """The operations every accumulator offers (see the module docstring)."""

    name: str

    def new(self) -> State:
        """An empty state."""
        ...

    def add(self, state: State, value: float, weight: float = 1.0) -> State:
        """Fold one observation into ``state`` (mutated and returned)."""
        ...

    def merge(self, a: State, b: State) -> State:
        """A new state holding the observations of ``a`` and ``b``; inputs untouched."""
        ...

    def merge_all(self, states: list[State]) -> State:
        """A new state equal to merging ``states`` in order into ``new()``; one pass."""
        ...

    def result(self, state: State, window_seconds: float) -> float | None:
        """The KPI value of a window of ``window_seconds``; None when there is none."""
        ...

    def count(self, state: State) -> int:
        """The number of observations folded into ``state``."""
        ...

    def weight(self, state: State, window_seconds: float) -> float:
        """What the value stands on: its denominator for ratios and weighted means (total
        weight, expected readings), the number of observations otherwise. Rows of several
        entities merge exactly as ``sum(value * weight) / sum(weight)``."""
        ...


@runtime_checkable
class KeyedAccumulator(Accumulator, Protocol):
    """An accumulator whose observations belong to a key (e.g. a sensor id)."""

    def add_keyed(self, state: State, key: str, value: float, weight: float = 1.0) -> State:
        """Fold one observation of ``key`` into ``state`` (mutated and returned)."""
        ...


class Count:
    """Number of observations. State: ``[n]``."""

    name = "count"

    def new(self) -> State:
        """An empty state."""
        return [0]

    def add(self, state: State, value: float, weight: float = 1.0) -> State:
        """Count one observation (value and weight are ignored)."""
        state[0] += 1
        return state

    def merge(self, a: State, b: State) -> State:
        """Sum of both counts."""
        return [a[0] + b[0]]

    def merge_all(self, states: list[State]) -> State:
        """Sum of all counts."""
        n = 0
        for state in states:
            n += state[0]
        return [n]

    def result(self, state: State, window_seconds: float) -> float | None:
        """The count, None when empty."""
        n: int = state[0]
        return float(n) if n else None

    def count(self, state: State) -> int:
        """The count."""
        n: int = state[0]
        return n

    def weight(self, state: State, window_seconds: float) -> float:
        """Number of observations."""
        return float(state[0])


class Sum:
    """Weighted sum ``sum(value * weight)``. State: ``[n, sum]``."""

    name = "sum"

    def new(self) -> State:
        """An empty state."""
        return [0, 0.0]

    def add(self, state: State, value: float, weight: float = 1.0) -> State:
        """Add ``value * weight``."""
        state[0] += 1
        state[1] += value * weight
        return state

    def merge(self, a: State, b: State) -> State:
        """Sum of both sums."""
        return [a[0] + b[0], a[1] + b[1]]

    def merge_all(self, states: list[State]) -> State:
        """Sum of all sums, added in order."""
        n, total = 0, 0.0
        for state in states:
            n += state[0]
            total += state[1]
        return [n, total]

    def result(self, state: State, window_seconds: float) -> float | None:
        """The sum, None when there was no observation."""
        return float(state[1]) if state[0] else None

    def count(self, state: State) -> int:
        """Number of observations."""
        n: int = state[0]
        return n

    def weight(self, state: State, window_seconds: float) -> float:
        """Number of observations."""
        return float(state[0])


class Mean:
    """Weighted mean ``sum(v * w) / sum(w)``. State: ``[n, sum_vw, sum_w]``."""

    name = "mean"

    def new(self) -> State:
        """An empty state."""
        return [0, 0.0, 0.0]

    def add(self, state: State, value: float, weight: float = 1.0) -> State:
        """Fold in ``value`` with ``weight``."""
        state[0] += 1
        state[1] += value * weight
        state[2] += weight
        return state

    def merge(self, a: State, b: State) -> State:
        """Component-wise sum."""
        return [a[0] + b[0], a[1] + b[1], a[2] + b[2]]

    def merge_all(self, states: list[State]) -> State:
        """Component-wise sum, added in order."""
        n, sum_vw, sum_w = 0, 0.0, 0.0
        for state in states:
            n += state[0]
            sum_vw += state[1]
            sum_w += state[2]
        return [n, sum_vw, sum_w]

    def result(self, state: State, window_seconds: float) -> float | None:
        """The weighted mean, None when the total weight is 0."""
        total_w: float = state[2]
        return state[1] / total_w if total_w else None

    def count(self, state: State) -> int:
        """Number of observations."""
        n: int = state[0]
        return n

    def weight(self, state: State, window_seconds: float) -> float:
        """The total weight: the mean's denominator."""
        total_w: float = state[2]
        return total_w


class MeanTimesWindowMinutes(Mean):
    """Weighted mean times the window length in minutes (e.g. down fraction -> minutes)."""

    name = "mean_x_window_minutes"

    def result(self, state: State, window_seconds: float) -> float | None:
        """Mean x window minutes, None when the total weight is 0."""
        total_w: float = state[2]
        return state[1] / total_w * (window_seconds / 60.0) if total_w else None


class Min:
    """Smallest value (weight ignored). State: ``[n, min]``."""

    name = "min"

    def new(self) -> State:
        """An empty state."""
        return [0, 0.0]

    def add(self, state: State, value: float, weight: float = 1.0) -> State:
        """Keep the smaller of the current minimum and ``value``."""
        if state[0] == 0 or value < state[1]:
            state[1] = value
        state[0] += 1
        return state

    def merge(self, a: State, b: State) -> State:
        """Minimum of both."""
        if not a[0]:
            return [b[0], b[1]]
        if not b[0]:
            return [a[0], a[1]]
        return [a[0] + b[0], b[1] if b[1] < a[1] else a[1]]

    def _pick(self, values: Iterator[float]) -> float:
        """The value this accumulator keeps (the first of equal ones)."""
        return min(values)

    def merge_all(self, states: list[State]) -> State:
        """Extreme of all (see :meth:`_pick`): :meth:`merge` in order, without a call per
        state."""
        live = [state for state in states if state[0]]
        if not live:
            return [0, states[-1][1]] if states else self.new()
        return [sum(state[0] for state in live), self._pick(state[1] for state in live)]

    def result(self, state: State, window_seconds: float) -> float | None:
        """The minimum, None when empty."""
        return float(state[1]) if state[0] else None

    def count(self, state: State) -> int:
        """Number of observations."""
        n: int = state[0]
        return n

    def weight(self, state: State, window_seconds: float) -> float:
        """Number of observations."""
        return float(state[0])


class Max(Min):
    """Largest value (weight ignored). State: ``[n, max]``."""

    name = "max"

    def add(self, state: State, value: float, weight: float = 1.0) -> State:
        """Keep the larger of the current maximum and ``value``."""
        if state[0] == 0 or value > state[1]:
            state[1] = value
        state[0] += 1
        return state

    def merge(self, a: State, b: State) -> State:
        """Maximum of both."""
        if not a[0]:
            return [b[0], b[1]]
        if not b[0]:
            return [a[0], a[1]]
        return [a[0] + b[0], b[1] if b[1] > a[1] else a[1]]

    def _pick(self, values: Iterator[float]) -> float:
        """The largest value (the first of equal ones)."""
        return max(values)


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


class PerKeyCompleteness:
    """Received / expected readings, with ``EXPECTED_PER_MINUTE`` readings per key per minute.

    State: ``[n, {key: readings}]``. Result: for each key seen, its readings capped at the
    expected number, summed, divided by (keys seen x expected per window). One key (a
    sensor entity) gives ``min(readings, minutes) / minutes``; a district gets the mean over
    the sensors it heard from. A key never heard in the window is not counted (silence of a
    whole sensor is the heartbeat alert's job). Feed it with ``add_keyed``.
    """

    name = "per_key_completeness"

    def __init__(self, expected_per_minute: float = EXPECTED_PER_MINUTE) -> None:
        self.expected_per_minute = expected_per_minute

    def new(self) -> State:
        """An empty state."""
        return [0, {}]

    def add(self, state: State, value: float, weight: float = 1.0) -> State:
        """Count one reading under key ``""``."""
        return self.add_keyed(state, "", value, weight)

    def add_keyed(self, state: State, key: str, value: float, weight: float = 1.0) -> State:
        """Count one reading of ``key`` (value and weight are ignored)."""
        per_key: dict[str, int] = state[1]
        per_key[key] = per_key.get(key, 0) + 1
        state[0] += 1
        return state

    def merge(self, a: State, b: State) -> State:
        """Key-wise sum of readings."""
        per_key: dict[str, int] = dict(a[1])
        for key, readings in b[1].items():
            per_key[key] = per_key.get(key, 0) + readings
        return [a[0] + b[0], per_key]

    def merge_all(self, states: list[State]) -> State:
        """Key-wise sum of readings over all states."""
        n = 0
        per_key: dict[str, int] = {}
        get = per_key.get
        for state in states:
            n += state[0]
            for key, readings in state[1].items():
                per_key[key] = get(key, 0) + readings
        return [n, per_key]

    def result(self, state: State, window_seconds: float) -> float | None:
        """Fraction of expected readings received, in 0..1; None when no key was seen."""
        per_key: dict[str, int] = state[1]
        expected = window_seconds / 60.0 * self.expected_per_minute
        if not per_key or expected <= 0:
            return None
        if len(per_key) == 1:  # one sensor's window: min(n, expected) as fsum would give
            (n,) = per_key.values()
            return min(float(n), expected) / expected
        readings = per_key.values()
        if expected.is_integer():
            # integers only: the exact sum, as fsum would give, without a call per key
            over = [n for n in readings if n > expected]
            received = float(sum(readings) - sum(over)) + len(over) * expected
        else:
            received = math.fsum(min(float(n), expected) for n in readings)
        return received / (len(per_key) * expected)

    def count(self, state: State) -> int:
        """Number of readings."""
        n: int = state[0]
        return n

    def weight(self, state: State, window_seconds: float) -> float:
        """The readings expected: keys seen x expected readings per key in the window."""
        return len(state[1]) * window_seconds / 60.0 * self.expected_per_minute


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
