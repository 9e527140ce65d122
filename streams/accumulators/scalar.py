"""Accumulators of one number each: count, sum, mean, minimum and maximum."""

from __future__ import annotations

from collections.abc import Iterator

from streams.accumulators.base import State


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
