"""Data completeness: readings received over readings expected, per key."""

from __future__ import annotations

import math

from streams.accumulators.base import EXPECTED_PER_MINUTE, State


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
