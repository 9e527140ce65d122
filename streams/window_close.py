"""Which windows a watermark closes, and their values: 1-minute panes merged into windows.

Pure functions over one partition's panes (:class:`streams.window_store.Pane`), used by
:meth:`streams.windows.PartitionWindows.close`. Tumbling 1-minute and 1-hour windows for
every entity, the hopping 15-minute window (every minute) for districts only; a window
closes when the boundary passes its end, and a pane is retired once no window needs it.

A :class:`Closing` keeps one private ``_Window`` per entity and window (its KPI values as a
list): :attr:`Closing.rows` gives its :class:`~streams.window_rows.KpiRow` rows and
:func:`kpi_packs` its city.kpi.v1 records straight from them; a row object per KPI in the
worker's path would cost about 13 % more CPU per event (mostly garbage collection).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

import orjson

from streams.catalog import KpiPlan, KpiValue
from streams.window_rows import (
    HOP_SECONDS,
    HOUR_SECONDS,
    PANE_SECONDS,
    WINDOW_KINDS,
    KpiRow,
    iso_of_epoch,
    utc,
    window_object,
)
from streams.window_store import EntityKey, Pane, PaneKey

MERGED_SIZES: Final[tuple[int, ...]] = (HOP_SECONDS, HOUR_SECONDS)
"""Windows of several panes (merged when they close); the hopping one for districts only."""
SKETCHED_ENTITY_KINDS: Final = frozenset({"district"})
"""Entity kinds whose windows carry their quantile KPIs' sketches: the province merges
district rows, so a district's quantile must be mergeable (design.md, invariant 7)."""
HOPPING_ENTITY_KINDS: Final = frozenset({"district"})
"""Entity kinds that get the hopping 15-minute window: rolling rates are a district figure
for the wall screens; agencies, sites and sensors get the tumbling 1-minute and 1-hour
windows only (a hopping window per sensor would multiply rows by 15 for no reader)."""


class _Window(NamedTuple):
    """The final values of one entity's window, as a closing computes them."""

    entity_kind: str
    entity_id: str
    district: str
    window_start: int
    window_end: int
    first_offset: int
    last_offset: int
    event_count: int
    values: list[KpiValue]
    """(KPI name, value, count, weight) of every KPI that has a value."""
    sketches: dict[str, Any] | None = None
    """District windows: the merged sketch state of each quantile KPI (province roll-ups
    merge them, :mod:`streams.accumulators.quantile`); None otherwise."""


WindowFilter = Callable[[EntityKey, int, int], bool]
"""Whether to build the rows of an entity's closed window ``[start, end)``."""


def every_window(entity: EntityKey, window_start: int, window_end: int) -> bool:
    """The :data:`WindowFilter` that keeps every window."""
    return True


def tumbling_ends(starts: list[int], first_end: int, last_end: int) -> list[int]:
    """The window ends in ``first_end..last_end`` where a tumbling window of an entity with
    panes ``starts`` (sorted) may close: the end of each pane's minute and each hour end,
    in order, each once."""
    low = bisect_left(starts, first_end - PANE_SECONDS)
    high = bisect_left(starts, last_end + 1 - PANE_SECONDS)
    minute_ends = [start + PANE_SECONDS for start in starts[low:high]]
    first_hour = -(-first_end // HOUR_SECONDS) * HOUR_SECONDS
    hour_ends = range(first_hour, last_end + 1, HOUR_SECONDS)
    if not hour_ends:
        return minute_ends
    return sorted({*minute_ends, *hour_ends})


def retired_at(pane_start: int) -> int:
    """The boundary after which no window needs the pane any more."""
    hour_end = pane_start - pane_start % HOUR_SECONDS + HOUR_SECONDS
    return max(pane_start + HOP_SECONDS, hour_end)


@dataclass
class Closed:
    """What one closing found: the windows' values, how many closed per kind, and the panes
    no window needs any more."""

    windows: list[_Window] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(WINDOW_KINDS.values(), 0))
    retired: list[PaneKey] = field(default_factory=list)


def close_windows(
    panes: dict[EntityKey, dict[int, Pane]],
    plan: KpiPlan,
    previous: int | None,
    boundary: int,
    wanted: WindowFilter,
) -> Closed:
    """Every window of ``panes`` whose end lies in ``(previous, boundary]`` (``previous``
    None: no window closed yet), built when ``wanted``; and the panes ``boundary`` retires.

    At each end: the minute (one pane, read as it is) and each longer window that ends
    there (several minutes, merged). One loop without calls per end: it runs once per
    entity and minute.
    """
    closed = Closed()
    out, counts, retired = closed.windows, closed.counts, closed.retired
    read_pane, read_sketches = plan.pane_values, plan.sketches
    every = wanted is every_window  # the worker's filter: no call per window
    minutes = 0
    for entity, entity_panes in panes.items():
        kind, entity_id = entity
        starts = sorted(entity_panes)
        first_end = starts[0] + PANE_SECONDS
        if previous is not None:
            first_end = max(first_end, previous + PANE_SECONDS)
        last_end = min(boundary, starts[-1] + HOUR_SECONDS)
        sketched = plan.sketched and kind in SKETCHED_ENTITY_KINDS
        if kind in HOPPING_ENTITY_KINDS:
            ends: Iterable[int] = range(first_end, last_end + 1, PANE_SECONDS)
            sizes = MERGED_SIZES
        else:  # only the ends of its panes' minutes and the hours between
            ends = tumbling_ends(starts, first_end, last_end)
            sizes = (HOUR_SECONDS,)
        for end in ends:
            pane = entity_panes.get(end - PANE_SECONDS)
            if pane is not None:
                minutes += 1
                if every or wanted(entity, end - PANE_SECONDS, end):
                    values = read_pane(pane.kpis, PANE_SECONDS)
                    sketches = read_sketches(pane.kpis) if sketched else None
                    out.append(
                        _Window(
                            kind,
                            entity_id,
                            pane.district,
                            end - PANE_SECONDS,
                            end,
                            pane.first,
                            pane.last,
                            pane.n,
                            values,
                            sketches,
                        )
                    )
            for size in sizes:
                if size == HOUR_SECONDS and end % HOUR_SECONDS:
                    continue
                low, high = bisect_left(starts, end - size), bisect_left(starts, end)
                if low < high:
                    counts[WINDOW_KINDS[size]] += 1
                    if every or wanted(entity, end - size, end):
                        members = [entity_panes[start] for start in starts[low:high]]
                        out.append(merged(entity, end - size, end, members, plan, sketched))
        for start in starts:
            if retired_at(start) > boundary:
                break
            retired.append((kind, entity_id, start))
    counts["1m"] += minutes
    return closed


def merged(
    entity: EntityKey,
    window_start: int,
    window_end: int,
    members: list[Pane],
    plan: KpiPlan,
    sketched: bool = False,
) -> _Window:
    """The values of one closed window of several minutes: its panes (in time order),
    merged; with ``sketched``, its quantile KPIs' merged sketches too."""
    first, last, events = members[0].first, members[0].last, 0
    for pane in members:  # one pass, no generators: an hour window has 60 panes
        if pane.first < first:
            first = pane.first
        if pane.last > last:
            last = pane.last
        events += pane.n
    states = plan.merge([p.kpis for p in members])
    values = plan.pane_values(states, window_end - window_start)
    return _Window(
        entity[0], entity[1], members[0].district, window_start, window_end,
        first, last, events, values, plan.sketches(states) if sketched else None,
    )  # fmt: skip


@dataclass
class Closing:
    """Result of :meth:`streams.windows.PartitionWindows.close`: windows to emit, then
    panes to delete."""

    topic: str
    partition: int
    _windows: list[_Window]
    windows_closed: dict[str, int]
    retired: list[PaneKey]
    closed_until: int

    @property
    def rows(self) -> list[KpiRow]:
        """One :class:`KpiRow` per KPI value of every closed window, a window's consecutive."""
        source = (self.topic, self.partition)
        out: list[KpiRow] = []
        for w in self._windows:
            start, end = utc(w.window_start), utc(w.window_end)
            shared = (w.entity_kind, w.entity_id, w.district,
                      WINDOW_KINDS[w.window_end - w.window_start], start, end)  # fmt: skip
            lineage = (*source, w.first_offset, w.last_offset, w.event_count)
            get = (w.sketches or {}).get
            out += [
                KpiRow(kpi, *shared, value, count, *lineage, weight, get(kpi))
                for kpi, value, count, weight in w.values
            ]
        return out

    def emitted(
        self, kpis: frozenset[str]
    ) -> tuple[dict[str, int], dict[tuple[str, str, str, str], tuple[float, int]]]:
        """How many rows the closed windows give by window kind ('1m', '15m', '1h'), and
        the newest 1-minute (value, window end) of each KPI of ``kpis`` per (kpi, entity
        kind, entity id, district) (an entity's windows come in end order). One pass."""
        by_size = dict.fromkeys(WINDOW_KINDS, 0)
        newest: dict[tuple[str, str, str, str], tuple[float, int]] = {}
        for kind, entity_id, district, start, end, _, _, _, values, _ in self._windows:
            size = end - start
            by_size[size] += len(values)
            if size == PANE_SECONDS:
                for kpi, value, _, _ in values:
                    if kpi in kpis:
                        newest[(kpi, kind, entity_id, district)] = (value, end)
        return {WINDOW_KINDS[size]: n for size, n in by_size.items()}, newest

    def kpi_windows(self) -> list[dict[str, Any]]:
        """The :class:`schemas.kpi.KpiWindow` objects of the windows that have rows."""
        topic, partition = self.topic, self.partition
        return [
            window_object(
                kind,
                entity_id,
                district,
                iso_of_epoch(start),
                iso_of_epoch(end),
                topic,
                partition,
                first,
                last,
                n,
                values,
                sketches,
            )
            for kind, entity_id, district, start, end, first, last, n, values, sketches in (
                self._windows
            )
            if values
        ]


def rows_of(closings: dict[int, Closing]) -> list[KpiRow]:
    """All rows of ``closings`` in a stable order."""
    return [row for _, closing in sorted(closings.items()) for row in closing.rows]


def kpi_packs(closings: dict[int, Closing], rows_per_pack: int) -> list[tuple[bytes, bytes]]:
    """The city.kpi.v1 records of ``closings``: (key, JSON array of KpiWindow objects),
    encoded as :func:`streams.window_rows.kpi_pack` encodes rows.

    Windows travel whole in packs of about ``rows_per_pack`` rows, keyed by their source
    partition (``topic|partition``): one Kafka record per row would cost more than
    computing it.
    """
    packs: list[tuple[bytes, bytes]] = []
    for partition, closing in sorted(closings.items()):
        key = f"{closing.topic}|{partition}".encode()
        pack: list[dict[str, Any]] = []
        rows = 0
        for window in closing.kpi_windows():
            pack.append(window)
            rows += len(window["kpis"])
            if rows >= rows_per_pack:
                packs.append((key, orjson.dumps(pack)))
                pack = []
                rows = 0
        if pack:
            packs.append((key, orjson.dumps(pack)))
    return packs
