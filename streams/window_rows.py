"""What windows emit: their sizes, a closing's windows and the KPI rows they give.

Inside the product a closing carries one :class:`WindowResult` per entity and window (its
KPI values as a list) rather than one object per row; :attr:`Closing.rows` flattens them
into :class:`KpiResult` rows (replay, reports). On the wire a window is a
:class:`schemas.kpi.KpiWindow` (``streams.pipeline.kpi_packs``) and a single row a
:class:`schemas.kpi.KpiRow` (:func:`kpi_row`).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

import orjson

from schemas.kpi import KpiRow
from streams.window_store import PaneKey

PANE_SECONDS: Final = 60
HOP_SECONDS: Final = 900
HOUR_SECONDS: Final = 3600
WINDOW_KINDS: Final[dict[int, str]] = {PANE_SECONDS: "1m", HOP_SECONDS: "15m", HOUR_SECONDS: "1h"}


@dataclass(frozen=True, slots=True)
class KpiResult:
    """One final KPI value of one entity and window, with lineage: one row of a
    :class:`WindowResult`, the unit replay compares with the rows stored in ``kpi``."""

    kpi: str
    entity_kind: str
    entity_id: str
    district: str
    window_start: int
    window_end: int
    value: float
    count: int
    source_topic: str
    source_partition: int
    first_offset: int
    last_offset: int
    event_count: int
    weight: float | None = None
    """What the value stands on (``Accumulator.weight``); None: rows older than it."""

    @property
    def window_kind(self) -> str:
        """'1m', '15m' or '1h'."""
        return WINDOW_KINDS[self.window_end - self.window_start]

    def identity(self) -> tuple[str, str, str, int, int]:
        """The upsert key of the row."""
        return (self.kpi, self.entity_kind, self.entity_id, self.window_start, self.window_end)


def kpi_row(row: KpiResult) -> KpiRow:
    """``row`` as the sink decodes a single-row message: a validated
    :class:`schemas.kpi.KpiRow` read from its JSON (window bounds in ISO)."""
    return KpiRow.model_validate_json(
        orjson.dumps(
            {
                "kpi": row.kpi,
                "entity_kind": row.entity_kind,
                "entity_id": row.entity_id,
                "district": row.district,
                "window_start": iso_utc(row.window_start),
                "window_end": iso_utc(row.window_end),
                "value": row.value,
                "count": row.count,
                "source_topic": row.source_topic,
                "source_partition": row.source_partition,
                "first_offset": row.first_offset,
                "last_offset": row.last_offset,
                "event_count": row.event_count,
                "weight": row.weight,
            }
        )
    )


@functools.lru_cache(maxsize=1 << 16)
def iso_utc(epoch: int) -> str:
    """``epoch`` seconds as ISO 8601 UTC, e.g. '2026-03-10T10:00:00Z' (cached)."""
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class WindowResult(NamedTuple):
    """The final values of one entity's window: what a closing emits, one row per KPI."""

    entity_kind: str
    entity_id: str
    district: str
    window_start: int
    window_end: int
    first_offset: int
    last_offset: int
    event_count: int
    values: list[tuple[str, float, int, float]]
    """(KPI name, value, count, weight) of every KPI that has a value."""
    sketches: dict[str, Any] | None = None
    """District windows: the merged sketch state of each quantile KPI (province roll-ups
    merge them, :mod:`streams.accumulators.quantile`); None otherwise."""


@dataclass
class Closing:
    """Result of :meth:`PartitionWindows.close`: windows to emit, then panes to delete."""

    topic: str
    partition: int
    windows: list[WindowResult]
    windows_closed: dict[str, int]
    retired: list[PaneKey]
    closed_until: int

    @property
    def rows(self) -> list[KpiResult]:
        """One :class:`KpiResult` per KPI value of every closed window."""
        topic, partition = self.topic, self.partition
        return [
            KpiResult(
                kpi,
                w.entity_kind,
                w.entity_id,
                w.district,
                w.window_start,
                w.window_end,
                value,
                count,
                topic,
                partition,
                w.first_offset,
                w.last_offset,
                w.event_count,
                weight,
            )
            for w in self.windows
            for kpi, value, count, weight in w.values
        ]
