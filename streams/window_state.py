"""The window state of one partition and its persistence: panes, clock, event ids, entities.

:class:`PartitionState` is what :class:`streams.windows.PartitionWindows` reads and
changes; it loads itself from the state table (:mod:`streams.window_store`: the panes a
batch changed are written as one segment; loading reads the segments back and drops the
panes the stored clock's ``closed_until`` retired), forgets retired panes and gives the
writes that make it durable.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from schemas.kpi import EntityKind
from streams.clocknotes import ClockNotes
from streams.dedup import EventIdIndex
from streams.routing import EntityRegistry
from streams.window_close import retired_at
from streams.window_store import (
    Clock,
    EntityKey,
    Pane,
    PaneKey,
    SegmentLedger,
    clock_store_key,
    read_stored,
    registry_store_key,
)

_DISTRICT: Final = EntityKind.DISTRICT


class PartitionState:
    """The window state of one partition of one raw topic, and its persistence."""

    def __init__(self, partition: int, dedup_horizon_seconds: float) -> None:
        self.partition = partition
        self.clock = Clock()
        self.ids = EventIdIndex(dedup_horizon_seconds)
        self.registry = EntityRegistry()
        self.notes = ClockNotes()
        """Wall-clock times records above the durable clock were judged by
        (:mod:`streams.clocknotes`); replay sets the worker's."""
        self.panes: dict[EntityKey, dict[int, Pane]] = {}
        self.dirty: dict[PaneKey, Pane] = {}
        """Panes changed since the last :meth:`take_dirty`, by key."""
        self.clock_dirty = False
        self._ledger = SegmentLedger(partition)

    # -- state loading ------------------------------------------------------------------
    def load(self, items: Iterable[tuple[bytes, bytes]]) -> None:
        """Rebuild from state-table items of this partition (other partitions are ignored)."""
        stored = read_stored(items, self.partition)
        self.clock, self.registry = stored.clock, stored.registry
        self.notes = stored.notes
        self.notes.forget_through(self.clock.processed_offset)
        self.ids.load(stored.id_segments, self.clock.watermark, self.clock.processed_offset)
        for seq, records in stored.segments:
            panes = dict(records)
            for key, pane in panes.items():
                self.panes.setdefault((key[0], key[1]), {})[key[2]] = pane
            self._ledger.loaded(seq, list(panes))
        closed = self.clock.closed_until
        if closed is not None:
            self.retire(
                (kind, entity_id, start)
                for (kind, entity_id), entity_panes in list(self.panes.items())
                for start in list(entity_panes)
                if retired_at(start) <= closed
            )
        self._ledger.finish_loading()

    def events_after(self, t: float) -> int:
        """Events in the district panes whose minute starts after ``t`` (future events
        waiting for the present)."""
        return sum(
            pane.n
            for (kind, _), entity_panes in self.panes.items()
            if kind == _DISTRICT
            for start, pane in entity_panes.items()
            if start > t
        )

    @property
    def pane_count(self) -> int:
        """Number of open panes."""
        return sum(len(p) for p in self.panes.values())

    def retire(self, keys: Iterable[PaneKey]) -> None:
        """Forget panes no window needs any more (after the caller stored the clock).

        Segments left without a live pane become deletable (:meth:`take_dead`). The keys of
        one entity come together (as :meth:`close` lists them): its panes are looked up once.
        """
        panes, dirty, forget = self.panes, self.dirty, self._ledger.forget
        entity: EntityKey = ("", "")
        entity_panes: dict[int, Pane] | None = None
        for key in keys:
            if key[1] != entity[1] or key[0] != entity[0]:
                if entity_panes is not None and not entity_panes:
                    del panes[entity]
                entity = (key[0], key[1])
                entity_panes = panes.get(entity)
            if entity_panes is None or entity_panes.pop(key[2], None) is None:
                continue
            if dirty:
                dirty.pop(key, None)
            forget(key)
        if entity_panes is not None and not entity_panes:
            del panes[entity]

    # -- persistence helpers ------------------------------------------------------------
    def take_dirty(self, retired: Iterable[PaneKey] = ()) -> list[tuple[bytes, bytes | None]]:
        """The changed panes as new segments (key, value), then the deletions of the
        segments they superseded entirely; forget that the panes changed.

        Panes in ``retired`` (those a closing retires: no window needs them any more) are
        not written."""
        if not self.dirty:
            return []
        skip = set(retired)
        if skip:
            items = [item for item in self.dirty.items() if item[0] not in skip]
        else:
            items = list(self.dirty.items())
        self.dirty.clear()
        return self._ledger.write(items)

    def take_dead(self) -> list[tuple[bytes, bytes | None]]:
        """Deletions (value None) of the segments no live pane needs any more."""
        return self._ledger.take_dead()

    def clock_items(self) -> list[tuple[bytes, bytes | None]]:
        """The clock as (key, value) for the state table, preceded by what must become
        durable with it: the event ids and entities admitted since the last call.

        Ids stored ahead of the clock (a crash between them) are ignored on loading: the
        records they came from are read again.
        """
        self.clock_dirty = False
        self.notes.forget_through(self.clock.processed_offset)
        out = self.ids.take_writes(self.partition)
        if self.registry.dirty:
            out.append((registry_store_key(self.partition), self.registry.encode()))
        out.append((clock_store_key(self.partition), self.clock.encode()))
        return out
