"""How an engine uses the catalog per event and window: entities, observations, folding
and window values."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, cast

from schemas.events import (
    ProbeEvent,
    RawEvent,
    SensorReading,
)
from schemas.kpi import EntityKind
from schemas.places import District
from streams.accumulators import (
    Accumulator,
    Count,
    KeyedAccumulator,
    Mean,
    Min,
    PerKeyCompleteness,
    Quantile,
    State,
    Sum,
)
from streams.catalog.definitions import KpiDef

_D, _A, _S, _N = EntityKind.DISTRICT, EntityKind.AGENCY, EntityKind.SITE, EntityKind.SENSOR

_DISTRICT_IDS: Final[dict[District, str]] = {d: d.value for d in District}
"""Each district's plain string id (cheaper than the Enum's ``value`` property per event)."""


def entities_of(event: RawEvent) -> tuple[tuple[EntityKind, str], ...]:
    """The KPI entities an event belongs to: its district and its agency / site / sensor."""
    district = _DISTRICT_IDS[event.district]
    if isinstance(event, SensorReading):
        return ((_D, district), (_N, event.sensor_id))
    if isinstance(event, ProbeEvent):
        return ((_D, district), (_S, event.site_id))
    return ((_D, district), (_A, event.agency_id))


Observed = tuple[str, Callable[[], State], Callable[..., Any], float, float, str | None]
"""One KPI's share of one event: (KPI name, its accumulator's ``new`` and ``add`` (or
``add_keyed``), value, weight, key or None)."""


KpiValue = tuple[str, float, int, float]
"""(KPI name, value, count, weight) of one KPI of one window (see ``Accumulator.weight``)."""


def _new_of(acc: Accumulator) -> Callable[[], State]:
    """A function giving ``acc``'s empty state: a copy of a template when the state is a
    flat list of numbers (a C call instead of a Python one: a new pane creates a state per
    KPI for most events), else ``acc.new``."""
    template = acc.new()
    if all(type(item) in (int, float) for item in template):
        return template.copy
    return acc.new


def _add_of(acc: Accumulator, keyed: bool) -> Callable[..., Any]:
    """``acc.add_keyed`` for a keyed KPI, else ``acc.add`` (looked up once)."""
    return cast(KeyedAccumulator, acc).add_keyed if keyed else acc.add


_FIRST_ITEM_COUNTS: Final = frozenset(
    acc.count for acc in (Count, Sum, Mean, Min, Quantile, PerKeyCompleteness)
)
"""``count`` methods that return ``state[0]``: read without a call per KPI and window."""


def _count_of(acc: Accumulator) -> Callable[[State], int] | None:
    """``acc.count``, or None where the count is the state's first item."""
    return None if getattr(type(acc), "count", None) in _FIRST_ITEM_COUNTS else acc.count


def _weight_of(acc: Accumulator) -> Callable[[State, float], float] | None:
    """``acc.weight``, or None where the weight is the observation count (read without a
    call per KPI and window)."""
    return acc.weight if isinstance(acc, Mean | PerKeyCompleteness) else None


class KpiPlan:
    """The KPIs of ``kpis`` with their functions looked up once (per partition, not per
    event or window): what an event contributes to each (:meth:`observe`) and the values
    of a window's panes (:meth:`values`)."""

    def __init__(self, kpis: tuple[KpiDef, ...]) -> None:
        self.kpis = kpis
        self._observe = tuple(
            (
                k.observe,
                k.observe_key,
                k.name,
                _new_of(k.acc),
                _add_of(k.acc, k.observe_key is not None),
            )
            for k in kpis
        )
        self._read = tuple(
            (k.name, k.acc.result, _count_of(k.acc), _weight_of(k.acc), k.acc.merge_all)
            for k in kpis
        )
        self._sketched = tuple(k.name for k in kpis if k.accumulator.startswith("quantile:"))
        self.sketched = bool(self._sketched)
        """Whether any KPI keeps a sketch (:meth:`sketches` can give one)."""

    def observe(self, event: Any) -> list[Observed]:
        """The observations of ``event``, in KPI order."""
        out: list[Observed] = []
        for observe, observe_key, name, new, add in self._observe:
            obs = observe(event)
            if obs is not None:
                key = None if observe_key is None else observe_key(event)
                out.append((name, new, add, obs[0], obs[1], key))
        return out

    def pane_values(self, pane: dict[str, State], window_seconds: float) -> list[KpiValue]:
        """``(name, value, count, weight)`` of each KPI that has a value in the one ``pane``."""
        out: list[KpiValue] = []
        for name, result, count, weight, _ in self._read:
            state = pane.get(name)
            if state is not None:
                value = result(state, window_seconds)
                if value is not None:
                    n = state[0] if count is None else count(state)
                    w = float(n) if weight is None else weight(state, window_seconds)
                    out.append((name, value, n, w))
        return out

    def sketches(self, pane: dict[str, State]) -> dict[str, State] | None:
        """The state of each quantile KPI in ``pane`` (one pane, or panes merged by
        :meth:`merge`): a mergeable sketch, what an exact roll-up of several windows'
        quantiles needs; None when there is none."""
        out = {name: pane[name] for name in self._sketched if name in pane}
        return out or None

    def merge(self, panes: list[dict[str, State]]) -> dict[str, State]:
        """The state of each KPI over ``panes``, merged in (time) order with the
        accumulators' ``merge_all``; one pane is returned as it is. States of other KPI names
        (e.g. restored from an older changelog) are left out. The inputs are left untouched.
        """
        if len(panes) == 1:
            return panes[0]
        by_name: dict[str, list[State]] = {}
        for pane in panes:
            for name, pane_state in pane.items():
                states = by_name.get(name)
                if states is None:
                    by_name[name] = [pane_state]
                else:
                    states.append(pane_state)
        merged: dict[str, State] = {}
        for name, _, _, _, merge_all in self._read:
            states = by_name.get(name)
            if states is not None:
                merged[name] = merge_all(states)
        return merged

    def values(self, panes: list[dict[str, State]], window_seconds: float) -> list[KpiValue]:
        """``(name, value, count, weight)`` of each KPI that has a value in ``panes``
        (merged by :meth:`merge`)."""
        return self.pane_values(self.merge(panes), window_seconds)


def observe_event(kpis: tuple[KpiDef, ...], event: Any) -> list[Observed]:
    """What ``event`` contributes to each KPI of ``kpis`` (KPIs it does not count for are
    left out). Computed once per event, then folded into each of its entities' panes."""
    return KpiPlan(kpis).observe(event)


def fold(panes: list[dict[str, State]], observed: list[Observed]) -> None:
    """Fold the observations of one event into the per-KPI states of each of ``panes``
    (one pass over the observations; each pane sees them in the same order)."""
    for name, new, add, value, weight, key in observed:
        for pane in panes:
            state = pane.get(name)
            if state is None:
                state = pane[name] = new()
            if key is None:
                add(state, value, weight)
            else:
                add(state, key, value, weight)


def apply_event(pane: dict[str, State], kpis: tuple[KpiDef, ...], event: Any) -> None:
    """Fold ``event`` into the per-KPI states of one entity's pane (created when missing)."""
    fold([pane], observe_event(kpis, event))


def window_values(
    panes: list[dict[str, State]], kpis: tuple[KpiDef, ...], window_seconds: float
) -> list[KpiValue]:
    """``(name, value, count)`` of each KPI of ``kpis`` that has a value in ``panes`` (see
    :meth:`KpiPlan.values`)."""
    return KpiPlan(kpis).values(panes, window_seconds)
