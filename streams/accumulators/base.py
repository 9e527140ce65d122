"""The accumulator protocol and its state: a JSON list whose first item is the count."""

from __future__ import annotations

from typing import Any, Final, Protocol, runtime_checkable

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
