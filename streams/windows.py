"""Event-time windows built from 1-minute panes: pure logic shared by worker, replay and tests.

One :class:`PartitionWindows` holds the window state of one source partition of one raw
topic. Every event is folded into one pane per KPI entity (its district and its agency,
site or sensor): the pane of the minute its ``occurred_at`` falls in. Windows are derived
from panes when they close ("no pane, no gain"): tumbling 1 minute and 1 hour for every
entity, hopping 15 minutes every minute for districts.

Promises (design.md, invariants 1-3 and 5):

* Idempotent: each pane remembers the highest source offset folded into it; a redelivered
  offset changes nothing. The partition clock remembers the highest offset processed, so
  whole redelivered batches are skipped. An event id is windowed once over the
  de-duplication horizon (:mod:`streams.dedup`), before any pane sees the event.
* The key contract (:mod:`streams.routing`): a record outside its district's partition, or
  naming an entity under another district than before, reaches no pane.
* Deterministic: whether an event is admitted depends only on the records before it in the
  partition and their record times (watermark = max of min(event time, reference time) -
  grace, where the reference time is the record time, capped by the worker's wall clock), so
  a pane's content does not depend on batch boundaries, crashes or restarts, and one event
  dated in the future cannot make the present late.
* Closing: a window is emitted once the watermark passes its end; ``closed_until`` records
  the emitted boundary. Callers must make the emitted rows and ``closed_until`` durable
  before they delete panes (see :meth:`PartitionWindows.close`).

Speed: an event's observations are computed once and folded into both of its panes; a
closing yields one :class:`WindowResult` per entity and window (its KPI values as a list),
not one object per row; the changed panes of a batch are stored as one segment.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Final, NamedTuple

import orjson

from schemas.events import RawEvent
from schemas.kpi import EntityKind
from schemas.places import District
from streams.accumulators import State
from streams.catalog import (
    KpiDef,
    KpiPlan,
    entities_of,
    fold,
    kpis_for_topic,
)
from streams.clocknotes import ClockNotes
from streams.dedup import DEFAULT_HORIZON_SECONDS, EventIdIndex
from streams.routing import EntityRegistry, district_partition, entity_reason, misrouted_reason

PANE_SECONDS: Final = 60
HOP_SECONDS: Final = 900
HOUR_SECONDS: Final = 3600
WINDOW_KINDS: Final[dict[int, str]] = {PANE_SECONDS: "1m", HOP_SECONDS: "15m", HOUR_SECONDS: "1h"}
MERGED_SIZES: Final[tuple[int, ...]] = (HOP_SECONDS, HOUR_SECONDS)
"""Windows of several panes (merged when they close); the hopping one for districts only."""
SEGMENT_PANES: Final = 1000
SEGMENT_BYTES: Final = 512 * 1024
"""Bounds of one state segment (a Kafka record of the changelog)."""
HOPPING_ENTITY_KINDS: Final = frozenset({"district"})
"""Entity kinds that get the hopping 15-minute window: rolling rates are a district figure
for the wall screens; agencies, sites and sensors get the tumbling 1-minute and 1-hour
windows only (a hopping window per sensor would multiply rows by 15 for no reader)."""


class Outcome(Enum):
    """What became of one valid event."""

    WINDOWED = "windowed"
    LATE = "late"
    REDELIVERY = "redelivery"
    DUPLICATE_ID = "event_id"
    MISROUTED = "misrouted"
    ENTITY_DISTRICT = "entity_district"


REFUSED: Final = frozenset({Outcome.MISROUTED, Outcome.ENTITY_DISTRICT})
"""Outcomes of valid events that break the key contract: they are dead-lettered."""


@dataclass(slots=True)
class Pane:
    """One minute of one entity: KPI accumulator states plus lineage."""

    district: str
    first: int
    last: int
    n: int = 0
    kpis: dict[str, State] = field(default_factory=dict)

    def record(self, key: PaneKey) -> list[Any]:
        """The pane as a JSON list for a state segment (see :meth:`from_record`)."""
        return [key[0], key[1], key[2], self.district, self.first, self.last, self.n,
                self.kpis]  # fmt: skip

    @classmethod
    def from_record(cls, record: list[Any]) -> tuple[PaneKey, Pane]:
        """The pane key and pane of one :meth:`record` list (older records also held the
        pane's event ids, now kept by the partition's id index)."""
        kind, entity_id, start, district, first, last, n = record[:7]
        return (kind, entity_id, start), cls(district, first, last, n, record[-1])


@dataclass(slots=True)
class Clock:
    """Progress of one source partition: watermark, emitted boundary, processed offset."""

    max_event_time: float | None = None
    watermark: float = -math.inf
    closed_until: int | None = None
    processed_offset: int = -1

    def encode(self) -> bytes:
        """Stable bytes for the changelog."""
        wm = None if self.watermark == -math.inf else self.watermark
        return orjson.dumps(
            [self.max_event_time, wm, self.closed_until, self.processed_offset],
        )

    @classmethod
    def decode(cls, raw: bytes) -> Clock:
        """The clock stored as ``raw`` by :meth:`encode`."""
        max_time, wm, closed, offset = orjson.loads(raw)
        return cls(max_time, -math.inf if wm is None else wm, closed, offset)


@dataclass(frozen=True, slots=True)
class KpiResult:
    """One final KPI value of one entity and window, with lineage."""

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

    def message_key(self) -> bytes:
        """Kafka key on city.kpi.v1: the row's entity, so one entity stays in order."""
        return f"{self.kpi}|{self.entity_kind}|{self.entity_id}".encode()

    def to_json(self) -> bytes:
        """The row as :class:`schemas.kpi.KpiRow` JSON."""
        return orjson.dumps(
            kpi_row(
                self.kpi,
                self.entity_kind,
                self.entity_id,
                self.district,
                self.window_start,
                self.window_end,
                self.value,
                self.count,
                self.source_topic,
                self.source_partition,
                self.first_offset,
                self.last_offset,
                self.event_count,
                self.weight,
            )
        )

    def identity(self) -> tuple[str, str, str, int, int]:
        """The upsert key of the row."""
        return (self.kpi, self.entity_kind, self.entity_id, self.window_start, self.window_end)


def kpi_row(
    kpi: str,
    entity_kind: str,
    entity_id: str,
    district: str,
    window_start: int,
    window_end: int,
    value: float,
    count: int,
    source_topic: str,
    source_partition: int,
    first_offset: int,
    last_offset: int,
    event_count: int,
    weight: float | None = None,
) -> dict[str, object]:
    """One row as the JSON object of :class:`schemas.kpi.KpiRow` (window bounds in ISO)."""
    return {
        "kpi": kpi,
        "entity_kind": entity_kind,
        "entity_id": entity_id,
        "district": district,
        "window_start": iso_utc(window_start),
        "window_end": iso_utc(window_end),
        "value": value,
        "count": count,
        "source_topic": source_topic,
        "source_partition": source_partition,
        "first_offset": first_offset,
        "last_offset": last_offset,
        "event_count": event_count,
        "weight": weight,
    }


@functools.lru_cache(maxsize=1 << 16)
def iso_utc(epoch: int) -> str:
    """``epoch`` seconds as ISO 8601 UTC, e.g. '2026-03-10T10:00:00Z' (cached)."""
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


EntityKey = tuple[str, str]
PaneKey = tuple[str, str, int]


def segment_store_key(partition: int, seq: int) -> bytes:
    """Key of a state segment: the panes one batch changed, in write order ``seq``."""
    return f"s|{partition}|{seq:012d}".encode()


def clock_store_key(partition: int) -> bytes:
    """Key of a partition's clock in the state table."""
    return f"c|{partition}".encode()


def registry_store_key(partition: int) -> bytes:
    """Key of a partition's entity registry in the state table."""
    return f"r|{partition}".encode()


def parse_store_key(raw: bytes) -> tuple[str, int, int]:
    """(kind, partition, seq) of a state-table key: kind "c" clock, "r" entity registry,
    "s" pane segment, "i" event-id segment, "n" clock notes; seq is -1 where the key has
    none."""
    parts = raw.decode().split("|")
    return parts[0], int(parts[1]), int(parts[2]) if len(parts) > 2 else -1


def _tumbling_ends(starts: list[int], first_end: int, last_end: int) -> list[int]:
    """The window ends in ``first_end..last_end`` where a tumbling window of an entity with
    panes ``starts`` (sorted) may close: the end of each pane's minute and each hour end,
    in order, each once."""
    minute_ends = [start + PANE_SECONDS for start in starts]
    low = bisect_left(minute_ends, first_end)
    high = bisect_left(minute_ends, last_end + 1)
    first_hour = -(-first_end // HOUR_SECONDS) * HOUR_SECONDS
    hour_ends = range(first_hour, last_end + 1, HOUR_SECONDS)
    if not hour_ends:
        return minute_ends[low:high]
    return sorted({*minute_ends[low:high], *hour_ends})


def _retired_at(pane_start: int) -> int:
    """The boundary after which no window needs the pane any more."""
    hour_end = pane_start - pane_start % HOUR_SECONDS + HOUR_SECONDS
    return max(pane_start + HOP_SECONDS, hour_end)


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


_DISTRICT: Final = EntityKind.DISTRICT
_DISTRICT_IDS: Final[dict[District, str]] = {d: d.value for d in District}


class PartitionWindows:
    """The window state of one partition of one raw topic.

    Persistence: the panes a batch changed are written as one *segment* (key
    :func:`segment_store_key`, value a JSON list of :meth:`Pane.record`) instead of one
    key per pane: one state write per batch, not one per event. A segment is deleted
    (tombstone) once every pane in it was rewritten by a later segment or retired; loading
    reads segments in ``seq`` order (later versions win) and drops the panes the stored
    clock's ``closed_until`` retired.
    """

    def __init__(
        self,
        topic: str,
        partition: int,
        grace_seconds: float,
        partitions: int | None = None,
        dedup_horizon_seconds: float = DEFAULT_HORIZON_SECONDS,
    ) -> None:
        self.topic = topic
        self.partition = partition
        self.grace = grace_seconds
        self.partitions = partitions
        """The topic's partition count, for the key contract; None checks no routing."""
        self._plan = KpiPlan(kpis_for_topic(topic))
        self.clock = Clock()
        self.ids = EventIdIndex(dedup_horizon_seconds)
        self.registry = EntityRegistry()
        self.notes = ClockNotes()
        """Wall-clock times records above the durable clock were judged by
        (:mod:`streams.clocknotes`); replay sets the worker's."""
        self._home = (
            {d.value: district_partition(d.value, partitions) == partition for d in District}
            if partitions
            else None
        )
        self.panes: dict[EntityKey, dict[int, Pane]] = {}
        self.dirty: dict[PaneKey, Pane] = {}
        """Panes changed since the last :meth:`take_dirty`, by key."""
        self.clock_dirty = False
        self._segment_of: dict[PaneKey, int] = {}
        self._live: dict[int, int] = {}
        self._dead: list[int] = []
        self._next_seq = 0

    @property
    def kpis(self) -> tuple[KpiDef, ...]:
        """The KPIs computed (replay narrows them to those it was asked for)."""
        return self._plan.kpis

    @kpis.setter
    def kpis(self, kpis: tuple[KpiDef, ...]) -> None:
        self._plan = KpiPlan(kpis)

    # -- state loading ------------------------------------------------------------------
    def load(self, items: Iterable[tuple[bytes, bytes]]) -> None:
        """Rebuild from state-table items of this partition (other partitions are ignored)."""
        segments: list[tuple[int, bytes]] = []
        id_segments: list[tuple[int, bytes]] = []
        for raw_key, raw_value in items:
            kind, partition, seq = parse_store_key(raw_key)
            if partition != self.partition:
                continue
            if kind == "c":
                self.clock = Clock.decode(raw_value)
            elif kind == "r":
                self.registry = EntityRegistry.decode(raw_value)
            elif kind == "s":
                segments.append((seq, raw_value))
            elif kind == "i":
                id_segments.append((seq, raw_value))
            elif kind == "n":
                self.notes = ClockNotes.decode(raw_value)
        self.notes.forget_through(self.clock.processed_offset)
        self.ids.load(id_segments, self.clock.watermark, self.clock.processed_offset)
        segments.sort()
        for seq, raw_value in segments:
            stored = dict(Pane.from_record(record) for record in orjson.loads(raw_value))
            for key, pane in stored.items():
                self.panes.setdefault((key[0], key[1]), {})[key[2]] = pane
            self._move_all(list(stored), seq)
            self._next_seq = seq + 1
        closed = self.clock.closed_until
        if closed is not None:
            self.retire(
                (kind, entity_id, start)
                for (kind, entity_id), entity_panes in list(self.panes.items())
                for start in list(entity_panes)
                if _retired_at(start) <= closed
            )
        self._dead.extend(seq for seq, n in self._live.items() if n == 0)

    def _release(self, seq: int) -> None:
        """One live pane of segment ``seq`` less; a segment left without any is deletable."""
        left = self._live[seq] - 1
        if left:
            self._live[seq] = left
        else:
            del self._live[seq]
            self._dead.append(seq)

    def _move_all(self, keys: list[PaneKey], seq: int) -> None:
        """Record that the newest stored version of each of ``keys`` (distinct) is in the
        new segment ``seq``; segments left without a live pane become deletable."""
        segment_of = self._segment_of
        for key in keys:
            old = segment_of.get(key)
            if old is not None:
                self._release(old)
            segment_of[key] = seq
        self._live[seq] = len(keys)

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

    # -- applying events ----------------------------------------------------------------
    def apply(self, offset: int, event: RawEvent, reference: float = math.inf) -> Outcome:
        """Fold one validated event at source ``offset`` into its panes; say what happened.

        ``reference`` is the record's reference time (its timestamp, capped by the worker's
        wall clock): the event moves the watermark by at most that time.
        """
        entities = entities_of(event)
        outcome = self.admit(offset, event, reference, entities)
        if outcome is Outcome.WINDOWED:
            return self.fold(offset, event, entities)
        return outcome

    def admit(
        self,
        offset: int,
        event: RawEvent,
        reference: float = math.inf,
        entities: tuple[EntityKey, ...] | None = None,
    ) -> Outcome:
        """Decide what becomes of an event and move the clock, without touching a pane:
        redelivery, misrouted, duplicate id, entity under another district, late, or
        windowed (then its id is remembered and the watermark moves). ``entities``: those
        of ``event`` (``entities_of``), when the caller has them already."""
        clock = self.clock
        if offset <= clock.processed_offset:
            return Outcome.REDELIVERY
        clock.processed_offset = offset
        self.clock_dirty = True
        district = _DISTRICT_IDS[event.district]
        if self._home is not None and not self._home[district]:
            return Outcome.MISROUTED
        event_id = event.event_id
        ids = self.ids
        first_seen = ids.seen.get(event_id)  # the rule of EventIdIndex.seen
        if first_seen is not None and first_seen >= clock.watermark - ids.horizon:
            return Outcome.DUPLICATE_ID
        entity_id = (entities or entities_of(event))[1][1]
        known = self.registry.districts.get(entity_id)
        if known is not None and known != district:
            return Outcome.ENTITY_DISTRICT
        t = event.occurred_at.timestamp()
        pane_end = int(t // PANE_SECONDS) * PANE_SECONDS + PANE_SECONDS
        if pane_end <= clock.watermark or (
            clock.closed_until is not None and pane_end <= clock.closed_until
        ):
            return Outcome.LATE
        ids.add(event_id, t, offset)
        if known is None:
            self.registry.register(entity_id, district)
        if clock.max_event_time is None or t > clock.max_event_time:
            clock.max_event_time = t
        progress = (t if t < reference else reference) - self.grace
        if progress > clock.watermark:
            clock.watermark = progress
        return Outcome.WINDOWED

    def refusal(self, outcome: Outcome, event: RawEvent) -> str:
        """Why an event with a :data:`REFUSED` outcome was dead-lettered."""
        district = _DISTRICT_IDS[event.district]
        if outcome is Outcome.MISROUTED:
            return misrouted_reason(district, self.partition, self.partitions or 1)
        kind, entity_id = entities_of(event)[1]
        known = self.registry.conflict(entity_id, district) or "?"
        return entity_reason(kind, entity_id, district, known)

    def fold(
        self, offset: int, event: RawEvent, entities: tuple[EntityKey, ...] | None = None
    ) -> Outcome:
        """Fold an admitted event into the pane of its minute of each of its entities;
        REDELIVERY when the district's pane already holds this offset (a batch read again
        after a crash between the pane writes and the clock write)."""
        t = event.occurred_at.timestamp()
        pane_start = int(t // PANE_SECONDS) * PANE_SECONDS
        outcome = Outcome.WINDOWED
        entities = entities or entities_of(event)
        district = entities[0][1]
        panes = self.panes
        dirty = self.dirty
        targets: list[dict[str, State]] = []
        for entity in entities:
            entity_panes = panes.get(entity)
            if entity_panes is None:
                entity_panes = panes[entity] = {}
            pane = entity_panes.get(pane_start)
            if pane is None:
                pane = entity_panes[pane_start] = Pane(district, offset, -1)
            elif pane.last >= offset:
                if entity[0] == _DISTRICT:
                    outcome = Outcome.REDELIVERY
                continue
            targets.append(pane.kpis)
            if offset < pane.first:
                pane.first = offset
            pane.last = offset
            pane.n += 1
            dirty[(entity[0], entity[1], pane_start)] = pane
        if targets:
            fold(targets, self._plan.observe(event))
        return outcome

    def advance_idle(self, now: float) -> None:
        """Advance the watermark of an idle partition to wall-clock ``now`` minus grace."""
        if now - self.grace > self.clock.watermark:
            self.clock.watermark = now - self.grace
            self.clock_dirty = True

    # -- closing windows ----------------------------------------------------------------
    def close(self) -> Closing | None:
        """Every window whose end the watermark passed since the last close.

        The caller emits ``windows``, makes them durable, then stores the clock (whose
        ``closed_until`` this call advanced) and only then retires the ``retired`` panes.
        Returns None when no window boundary was passed.
        """
        if self.clock.watermark == -math.inf:
            return None
        boundary = int(self.clock.watermark // PANE_SECONDS) * PANE_SECONDS
        previous = self.clock.closed_until
        if previous is not None and boundary <= previous:
            return None
        out: list[WindowResult] = []
        closed = dict.fromkeys(WINDOW_KINDS.values(), 0)
        minutes = 0
        retired: list[PaneKey] = []
        merged, wanted = self._merged, self._wanted
        read_pane = self._plan.pane_values
        for entity, entity_panes in self.panes.items():
            kind, entity_id = entity
            starts = sorted(entity_panes)
            first_end = starts[0] + PANE_SECONDS
            if previous is not None:
                first_end = max(first_end, previous + PANE_SECONDS)
            last_end = min(boundary, starts[-1] + HOUR_SECONDS)
            if kind in HOPPING_ENTITY_KINDS:
                ends: Iterable[int] = range(first_end, last_end + 1, PANE_SECONDS)
                merged_sizes = MERGED_SIZES
            else:  # only the ends of its panes' minutes and the hours between
                ends = _tumbling_ends(starts, first_end, last_end)
                merged_sizes = (HOUR_SECONDS,)
            for end in ends:
                pane = entity_panes.get(end - PANE_SECONDS)
                if pane is not None:  # the minute: one pane, read as it is
                    minutes += 1
                    if wanted(entity, end - PANE_SECONDS, end):
                        out.append(
                            WindowResult(
                                kind,
                                entity_id,
                                pane.district,
                                end - PANE_SECONDS,
                                end,
                                pane.first,
                                pane.last,
                                pane.n,
                                read_pane(pane.kpis, PANE_SECONDS),
                            )
                        )
                for size in merged_sizes:  # several minutes: merged
                    if size == HOUR_SECONDS and end % HOUR_SECONDS:
                        continue
                    low, high = bisect_left(starts, end - size), bisect_left(starts, end)
                    if low < high:
                        closed[WINDOW_KINDS[size]] += 1
                        if wanted(entity, end - size, end):
                            out.append(merged(entity, end - size, end, starts[low:high]))
            for start in starts:
                if _retired_at(start) > boundary:
                    break
                retired.append((kind, entity_id, start))
        closed["1m"] = minutes
        self.clock.closed_until = boundary
        self.clock_dirty = True
        self.ids.expire(self.clock.watermark)
        return Closing(self.topic, self.partition, out, closed, retired, boundary)

    def retire(self, keys: Iterable[PaneKey]) -> None:
        """Forget panes no window needs any more (after the caller stored the clock).

        Segments left without a live pane become deletable (:meth:`take_dead`). The keys of
        one entity come together (as :meth:`close` lists them): its panes are looked up once.
        """
        panes, dirty, segment_of = self.panes, self.dirty, self._segment_of
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
            old = segment_of.pop(key, None)
            if old is not None:
                self._release(old)
        if entity_panes is not None and not entity_panes:
            del panes[entity]

    def _wanted(self, entity: EntityKey, window_start: int, window_end: int) -> bool:
        """Whether to build the rows of a closed window (replay narrows this down)."""
        return True

    def _merged(
        self, entity: EntityKey, window_start: int, window_end: int, starts: list[int]
    ) -> WindowResult:
        """The values of one closed window of several minutes: the entity's panes that
        start at ``starts`` (in time order), merged."""
        entity_panes = self.panes[entity]
        members = [entity_panes[start] for start in starts]
        first, last, events = members[0].first, members[0].last, 0
        for pane in members:  # one pass, no generators: an hour window has 60 panes
            if pane.first < first:
                first = pane.first
            if pane.last > last:
                last = pane.last
            events += pane.n
        values = self._plan.values([p.kpis for p in members], window_end - window_start)
        return WindowResult(
            entity[0], entity[1], members[0].district, window_start, window_end,
            first, last, events, values,
        )  # fmt: skip

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
        out: list[tuple[bytes, bytes | None]] = []
        chunks = [items[i : i + SEGMENT_PANES] for i in range(0, len(items), SEGMENT_PANES)]
        while chunks:
            chunk = chunks.pop()
            blob = orjson.dumps([pane.record(key) for key, pane in chunk])
            if len(blob) > SEGMENT_BYTES and len(chunk) > 1:
                half = len(chunk) // 2
                chunks += [chunk[:half], chunk[half:]]
                continue
            seq = self._next_seq
            self._next_seq += 1
            self._move_all([key for key, _ in chunk], seq)
            out.append((segment_store_key(self.partition, seq), blob))
        out.extend(self.take_dead())
        return out

    def take_dead(self) -> list[tuple[bytes, bytes | None]]:
        """Deletions (value None) of the segments no live pane needs any more."""
        dead, self._dead = self._dead, []
        return [(segment_store_key(self.partition, seq), None) for seq in dead]

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
