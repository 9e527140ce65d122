"""Event-time windows built from 1-minute panes: pure logic shared by worker, replay and tests.

One :class:`PartitionWindows` holds the window state of one source partition of one raw
topic. Every event is folded into one pane per KPI entity (its district and its agency,
site or sensor): the pane of the minute its ``occurred_at`` falls in. Windows are derived
from panes when they close ("no pane, no gain"): tumbling 1 minute and 1 hour for every
entity, hopping 15 minutes every minute for districts.

Promises (design.md, invariants 1-3 and 5):

* Idempotent: each pane remembers the highest source offset folded into it and the event
  ids it holds; a redelivered offset or a repeated event id changes nothing. The partition
  clock remembers the highest offset processed, so whole redelivered batches are skipped.
* Deterministic: whether an event is late depends only on the events before it in the
  partition (watermark = max event time seen - grace), so a pane's content does not depend
  on batch boundaries, crashes or restarts.
* Closing: a window is emitted once the watermark passes its end; ``closed_until`` records
  the emitted boundary. Callers must make the emitted rows and ``closed_until`` durable
  before they delete panes (see :meth:`PartitionWindows.close`).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Final

import orjson

from schemas.events import RawEvent
from streams.accumulators import State
from streams.catalog import KpiDef, apply_event, entities_of, kpis_for_topic, merge_panes
from streams.catalog import pane_results as results_of

PANE_SECONDS: Final = 60
HOP_SECONDS: Final = 900
HOUR_SECONDS: Final = 3600
WINDOW_KINDS: Final[dict[int, str]] = {PANE_SECONDS: "1m", HOP_SECONDS: "15m", HOUR_SECONDS: "1h"}
WINDOW_SIZES: Final = (PANE_SECONDS, HOP_SECONDS, HOUR_SECONDS)
TUMBLING_SIZES: Final = (PANE_SECONDS, HOUR_SECONDS)
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


@dataclass(slots=True)
class Pane:
    """One minute of one entity: KPI accumulator states plus lineage and dedup data."""

    district: str
    first: int
    last: int
    n: int = 0
    ids: set[str] = field(default_factory=set)
    kpis: dict[str, State] = field(default_factory=dict)

    def encode(self) -> bytes:
        """Stable bytes for the changelog."""
        return orjson.dumps(
            {
                "d": self.district,
                "f": self.first,
                "l": self.last,
                "n": self.n,
                "i": sorted(self.ids),
                "k": self.kpis,
            },
            option=orjson.OPT_SORT_KEYS,
        )

    @classmethod
    def decode(cls, raw: bytes) -> Pane:
        """The pane stored as ``raw`` by :meth:`encode`."""
        data = orjson.loads(raw)
        return cls(data["d"], data["f"], data["l"], data["n"], set(data["i"]), data["k"])


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
            {
                "kpi": self.kpi,
                "entity_kind": self.entity_kind,
                "entity_id": self.entity_id,
                "district": self.district,
                "window_start": _iso(self.window_start),
                "window_end": _iso(self.window_end),
                "value": self.value,
                "count": self.count,
                "source_topic": self.source_topic,
                "source_partition": self.source_partition,
                "first_offset": self.first_offset,
                "last_offset": self.last_offset,
                "event_count": self.event_count,
            }
        )

    def identity(self) -> tuple[str, str, str, int, int]:
        """The upsert key of the row."""
        return (self.kpi, self.entity_kind, self.entity_id, self.window_start, self.window_end)


@functools.lru_cache(maxsize=1 << 16)
def _iso(epoch: int) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


EntityKey = tuple[str, str]
PaneKey = tuple[str, str, int]


def pane_store_key(partition: int, key: PaneKey) -> bytes:
    """Key of a pane in the state table: partition, entity kind, entity id, pane start."""
    return f"p|{partition}|{key[0]}|{key[1]}|{key[2]}".encode()


def clock_store_key(partition: int) -> bytes:
    """Key of a partition's clock in the state table."""
    return f"c|{partition}".encode()


def parse_store_key(raw: bytes) -> tuple[int, PaneKey | None]:
    """(partition, pane key) of a state-table key; the pane key is None for a clock."""
    parts = raw.decode().split("|")
    if parts[0] == "c":
        return int(parts[1]), None
    return int(parts[1]), (parts[2], parts[3], int(parts[4]))


def _retired_at(pane_start: int) -> int:
    """The boundary after which no window needs the pane any more."""
    hour_end = pane_start - pane_start % HOUR_SECONDS + HOUR_SECONDS
    return max(pane_start + HOP_SECONDS, hour_end)


@dataclass
class Closing:
    """Result of :meth:`PartitionWindows.close`: rows to emit, then panes to delete."""

    rows: list[KpiResult]
    windows_closed: dict[str, int]
    retired: list[PaneKey]
    closed_until: int


class PartitionWindows:
    """The window state of one partition of one raw topic."""

    def __init__(self, topic: str, partition: int, grace_seconds: float) -> None:
        self.topic = topic
        self.partition = partition
        self.grace = grace_seconds
        self.kpis: tuple[KpiDef, ...] = kpis_for_topic(topic)
        self.clock = Clock()
        self.panes: dict[EntityKey, dict[int, Pane]] = {}
        self.dirty: set[PaneKey] = set()
        self.clock_dirty = False

    # -- state loading ------------------------------------------------------------------
    def load(self, items: Iterable[tuple[bytes, bytes]]) -> None:
        """Rebuild from state-table items of this partition (other partitions are ignored)."""
        for raw_key, raw_value in items:
            partition, pane_key = parse_store_key(raw_key)
            if partition != self.partition:
                continue
            if pane_key is None:
                self.clock = Clock.decode(raw_value)
            else:
                entity = (pane_key[0], pane_key[1])
                self.panes.setdefault(entity, {})[pane_key[2]] = Pane.decode(raw_value)

    @property
    def pane_count(self) -> int:
        """Number of open panes."""
        return sum(len(p) for p in self.panes.values())

    # -- applying events ----------------------------------------------------------------
    def apply(self, offset: int, event: RawEvent) -> Outcome:
        """Fold one validated event at source ``offset`` into its panes; say what happened."""
        clock = self.clock
        if offset <= clock.processed_offset:
            return Outcome.REDELIVERY
        clock.processed_offset = offset
        self.clock_dirty = True
        t = event.occurred_at.timestamp()
        pane_start = int(t // PANE_SECONDS) * PANE_SECONDS
        pane_end = pane_start + PANE_SECONDS
        if pane_end <= clock.watermark or (
            clock.closed_until is not None and pane_end <= clock.closed_until
        ):
            return Outcome.LATE
        outcome = Outcome.WINDOWED
        district = event.district.value
        for index, (kind, entity_id) in enumerate(entities_of(event)):
            entity_panes = self.panes.setdefault((kind.value, entity_id), {})
            pane = entity_panes.get(pane_start)
            if pane is None:
                pane = entity_panes[pane_start] = Pane(district, offset, -1)
            elif pane.last >= offset:
                if index == 0:
                    outcome = Outcome.REDELIVERY
                continue
            elif event.event_id in pane.ids:
                if index == 0:
                    outcome = Outcome.DUPLICATE_ID
                continue
            apply_event(pane.kpis, self.kpis, event)
            pane.ids.add(event.event_id)
            pane.first = min(pane.first, offset)
            pane.last = offset
            pane.n += 1
            self.dirty.add((kind.value, entity_id, pane_start))
        if clock.max_event_time is None or t > clock.max_event_time:
            clock.max_event_time = t
        clock.watermark = max(clock.watermark, t - self.grace)
        return outcome

    def advance_idle(self, now: float) -> None:
        """Advance the watermark of an idle partition to wall-clock ``now`` minus grace."""
        if now - self.grace > self.clock.watermark:
            self.clock.watermark = now - self.grace
            self.clock_dirty = True

    # -- closing windows ----------------------------------------------------------------
    def close(self) -> Closing | None:
        """Rows of every window whose end the watermark passed since the last close.

        The caller emits ``rows``, makes them durable, then stores the clock (whose
        ``closed_until`` this call advanced) and only then deletes the ``retired`` panes.
        Returns None when no window boundary was passed.
        """
        if self.clock.watermark == -math.inf:
            return None
        boundary = int(self.clock.watermark // PANE_SECONDS) * PANE_SECONDS
        previous = self.clock.closed_until
        if previous is not None and boundary <= previous:
            return None
        rows: list[KpiResult] = []
        closed = dict.fromkeys(WINDOW_KINDS.values(), 0)
        retired: list[PaneKey] = []
        for entity in sorted(self.panes):
            entity_panes = self.panes[entity]
            starts = sorted(entity_panes)
            first_end = starts[0] + PANE_SECONDS
            if previous is not None:
                first_end = max(first_end, previous + PANE_SECONDS)
            last_end = min(boundary, starts[-1] + HOUR_SECONDS)
            sizes = WINDOW_SIZES if entity[0] in HOPPING_ENTITY_KINDS else TUMBLING_SIZES
            for end in range(first_end, last_end + 1, PANE_SECONDS):
                for size in sizes:
                    if size == HOUR_SECONDS and end % HOUR_SECONDS:
                        continue
                    low = bisect_left(starts, end - size)
                    high = bisect_left(starts, end)
                    if low == high:
                        continue
                    members = [entity_panes[s] for s in starts[low:high]]
                    rows.extend(self._rows(entity, end - size, end, members))
                    closed[WINDOW_KINDS[size]] += 1
            for start in starts:
                if _retired_at(start) > boundary:
                    break
                retired.append((entity[0], entity[1], start))
        self.clock.closed_until = boundary
        self.clock_dirty = True
        return Closing(rows, closed, retired, boundary)

    def retire(self, keys: Iterable[PaneKey]) -> None:
        """Forget panes no window needs any more (after the caller stored the clock)."""
        for kind, entity_id, start in keys:
            entity_panes = self.panes.get((kind, entity_id))
            if entity_panes is None:
                continue
            entity_panes.pop(start, None)
            self.dirty.discard((kind, entity_id, start))
            if not entity_panes:
                del self.panes[(kind, entity_id)]

    def _rows(
        self, entity: EntityKey, window_start: int, window_end: int, members: list[Pane]
    ) -> list[KpiResult]:
        merged = members[0].kpis if len(members) == 1 else merge_panes(p.kpis for p in members)
        first = min(p.first for p in members)
        last = max(p.last for p in members)
        events = sum(p.n for p in members)
        district = members[0].district
        return [
            KpiResult(
                kpi.name,
                entity[0],
                entity[1],
                district,
                window_start,
                window_end,
                value,
                count,
                self.topic,
                self.partition,
                first,
                last,
                events,
            )
            for kpi, value, count in results_of(merged, self.kpis, window_end - window_start)
        ]

    # -- persistence helpers ------------------------------------------------------------
    def take_dirty(self) -> list[tuple[bytes, bytes]]:
        """Changed panes as (key, value) for the state table, and forget that they changed."""
        out = []
        for key in sorted(self.dirty):
            pane = self.panes[(key[0], key[1])][key[2]]
            out.append((pane_store_key(self.partition, key), pane.encode()))
        self.dirty.clear()
        return out

    def clock_item(self) -> tuple[bytes, bytes]:
        """The clock as (key, value) for the state table."""
        self.clock_dirty = False
        return clock_store_key(self.partition), self.clock.encode()
