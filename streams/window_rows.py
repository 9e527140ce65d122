"""What windows emit: their sizes and the one KPI row shape inside the product.

A closing gives one :class:`KpiRow` per KPI of every closed window, consecutive for one
window, in the columns of the ``kpi`` table: the sink COPYs them, replay compares them
with the rows it reads back, reports print them. On city.kpi.v1 the rows of one window
travel as one :class:`schemas.kpi.KpiWindow` (:func:`kpi_pack`, :func:`kpi_windows`).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from operator import itemgetter
from typing import Any, Final, NamedTuple

import orjson

PANE_SECONDS: Final = 60
HOP_SECONDS: Final = 900
HOUR_SECONDS: Final = 3600
WINDOW_KINDS: Final[dict[int, str]] = {PANE_SECONDS: "1m", HOP_SECONDS: "15m", HOUR_SECONDS: "1h"}


class KpiRow(NamedTuple):
    """One final KPI value of one entity and window with its lineage, in the columns of the
    ``kpi`` table (``KpiRow(*record)`` reads a stored row back).

    ``weight`` is what the value stands on (``Accumulator.weight``; None: rows older than
    it); ``sketch`` a district row's mergeable quantile sketch, else None.
    """

    kpi: str
    entity_kind: str
    entity_id: str
    district: str
    window_kind: str
    window_start: dt.datetime
    window_end: dt.datetime
    value: float
    count: int  # type: ignore[assignment]  # the column of kpi; tuple.count is never used
    source_topic: str
    source_partition: int
    first_offset: int
    last_offset: int
    event_count: int
    weight: float | None
    sketch: Any = None
    sketch_cumulative: list[float] | None = None
    """The sketch as the boards merge it (``sinks.sketch_cumulative``): the sink fills it
    when it stores a district row's sketch; None otherwise."""

    def identity(self) -> tuple[str, str, str, dt.datetime, dt.datetime]:
        """The upsert key: (kpi, entity_kind, entity_id, window_start, window_end)."""
        return (self.kpi, self.entity_kind, self.entity_id, self.window_start, self.window_end)


def kind_of_length(seconds: float) -> str | None:
    """'1m', '15m' or '1h' for a window of ``seconds``; None for any other length."""
    return WINDOW_KINDS.get(int(seconds)) if seconds.is_integer() else None


@functools.lru_cache(maxsize=1 << 16)
def utc(epoch: int) -> dt.datetime:
    """``epoch`` seconds as an aware UTC datetime (cached: windows share their bounds)."""
    return dt.datetime.fromtimestamp(epoch, dt.UTC)


@functools.lru_cache(maxsize=1 << 16)
def iso_utc(when: dt.datetime) -> str:
    """``when`` as ISO 8601 UTC, e.g. '2026-03-10T10:00:00Z' (cached)."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@functools.lru_cache(maxsize=1 << 16)
def iso_of_epoch(epoch: int) -> str:
    """``epoch`` seconds as ISO 8601 UTC (cached by the int: cheaper to hash than a
    datetime, for the worker's packs)."""
    return iso_utc(utc(epoch))


_WINDOW: Final = itemgetter(1, 2, 3, 5, 6, 9, 10, 11, 12, 13)
"""What the rows of one window share: entity, bounds and lineage."""
_KPI: Final = itemgetter(0, 7, 8, 14)
"""A row's ``[kpi, value, count, weight]`` in its window."""


def window_object(
    entity_kind: str,
    entity_id: str,
    district: str,
    window_start: str,
    window_end: str,
    source_topic: str,
    source_partition: int,
    first_offset: int,
    last_offset: int,
    event_count: int,
    kpis: list[Any],
    sketches: dict[str, Any] | None,
) -> dict[str, Any]:
    """One :class:`schemas.kpi.KpiWindow` object: the entity, ISO bounds, lineage, ``[kpi,
    value, count, weight]`` of each KPI, and the sketches when there are any. Flat
    arguments: a closing calls it about once per event."""
    window: dict[str, Any] = {
        "entity_kind": entity_kind,
        "entity_id": entity_id,
        "district": district,
        "window_start": window_start,
        "window_end": window_end,
        "source_topic": source_topic,
        "source_partition": source_partition,
        "first_offset": first_offset,
        "last_offset": last_offset,
        "event_count": event_count,
        "kpis": kpis,
    }
    if sketches:
        window["sketches"] = sketches
    return window


def kpi_windows(rows: Iterable[KpiRow]) -> list[dict[str, Any]]:
    """``rows`` as :class:`schemas.kpi.KpiWindow` objects: consecutive rows of one window
    become one object stating its entity, bounds and lineage once, with one ``[kpi, value,
    count, weight]`` per KPI and the sketches of the rows that have one."""
    groups: list[tuple[Any, list[Any], dict[str, Any]]] = []
    kpis: list[Any] = []
    sketches: dict[str, Any] = {}
    shared: tuple[Any, ...] | None = None
    for row in rows:
        key = _WINDOW(row)
        if key != shared:
            shared, kpis, sketches = key, [], {}
            groups.append((key, kpis, sketches))
        kpis.append(_KPI(row))
        if row.sketch is not None:
            sketches[row.kpi] = row.sketch
    out: list[dict[str, Any]] = []
    for key, kpis, sketches in groups:
        kind, entity_id, district, start, end, topic, partition, first, last, n = key
        out.append(
            window_object(
                kind,
                entity_id,
                district,
                iso_utc(start),
                iso_utc(end),
                topic,
                partition,
                first,
                last,
                n,
                kpis,
                sketches,
            )
        )
    return out


def kpi_pack(rows: Iterable[KpiRow]) -> bytes:
    """One city.kpi.v1 record value: ``rows`` as a JSON array of KpiWindow objects."""
    return orjson.dumps(kpi_windows(rows))
