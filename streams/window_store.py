"""How a partition's window state is stored in its Faust table (and changelog).

Keys (:func:`parse_store_key`): ``c|<partition>`` the partition's :class:`Clock`,
``r|<partition>`` its entity registry, ``i|<partition>|<seq>`` event-id segments
(:mod:`streams.dedup`) and ``s|<partition>|<seq>`` pane segments: the panes one batch
changed, as one JSON list of :meth:`Pane.record`, instead of one key per pane (one state
write per batch, not one per event). A pane segment is deleted (tombstone) once every pane
in it was rewritten by a later segment or retired; loading reads segments in ``seq`` order
(later versions win). :class:`SegmentLedger` keeps that bookkeeping; the window logic
(:mod:`streams.windows`) only says which panes changed and which it retired.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from streams.accumulators import State
from streams.clocknotes import ClockNotes
from streams.routing import EntityRegistry

SEGMENT_PANES: Final = 1000
SEGMENT_BYTES: Final = 512 * 1024

EntityKey = tuple[str, str]
PaneKey = tuple[str, str, int]


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
    """Progress of one source partition: watermark, emitted boundary, processed offset, and
    the progress markers (:mod:`streams.progress`) it sends and has heard."""

    max_event_time: float | None = None
    watermark: float = -math.inf
    closed_until: int | None = None
    processed_offset: int = -1
    progress: float = -math.inf
    """Largest ``min(event time, reference) - grace`` of the events it re-routed; what it
    tells its peers is at least the larger of this and its watermark."""
    peers: dict[int, float] = field(default_factory=dict)
    """The progress each other partition announced (-inf: nothing yet)."""
    aligned: float = -math.inf
    """The largest ``min(watermark, peers' progress)`` so far: lateness and closing use it."""

    def encode(self) -> bytes:
        """Stable bytes for the changelog (a clock that heard no marker and re-routed
        nothing keeps the shorter form of older workers)."""
        wm = _finite(self.watermark)
        head = [self.max_event_time, wm, self.closed_until, self.processed_offset]
        if self.progress == -math.inf and not self.peers:
            return orjson.dumps(head)
        return orjson.dumps(
            [
                *head,
                _finite(self.progress),
                [[p, _finite(v)] for p, v in sorted(self.peers.items())],
                _finite(self.aligned),
            ]
        )

    @classmethod
    def decode(cls, raw: bytes) -> Clock:
        """The clock stored as ``raw`` by :meth:`encode`."""
        fields = orjson.loads(raw)
        max_time, wm, closed, offset = fields[:4]
        watermark = _infinite(wm)
        if len(fields) == 4:
            return cls(max_time, watermark, closed, offset, aligned=watermark)
        progress, peers, aligned = fields[4:7]
        return cls(
            max_time,
            watermark,
            closed,
            offset,
            _infinite(progress),
            {int(p): _infinite(v) for p, v in peers},
            _infinite(aligned),
        )


def _finite(value: float) -> float | None:
    return None if value == -math.inf else value


def _infinite(value: float | None) -> float:
    return -math.inf if value is None else value


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


@dataclass
class StoredPartition:
    """What the state table holds for one partition, decoded (see :func:`read_stored`)."""

    clock: Clock = field(default_factory=Clock)
    registry: EntityRegistry = field(default_factory=EntityRegistry)
    segments: list[tuple[int, list[tuple[PaneKey, Pane]]]] = field(default_factory=list)
    """Pane segments in ``seq`` order: later versions of a pane win."""
    id_segments: list[tuple[int, bytes]] = field(default_factory=list)
    notes: ClockNotes = field(default_factory=ClockNotes)


def read_stored(items: Iterable[tuple[bytes, bytes]], partition: int) -> StoredPartition:
    """The state-table items of ``partition`` (other partitions' items are ignored)."""
    stored = StoredPartition()
    raw_segments: list[tuple[int, bytes]] = []
    for raw_key, raw_value in items:
        kind, owner, seq = parse_store_key(raw_key)
        if owner != partition:
            continue
        if kind == "c":
            stored.clock = Clock.decode(raw_value)
        elif kind == "r":
            stored.registry = EntityRegistry.decode(raw_value)
        elif kind == "s":
            raw_segments.append((seq, raw_value))
        elif kind == "i":
            stored.id_segments.append((seq, raw_value))
        elif kind == "n":
            stored.notes = ClockNotes.decode(raw_value)
    raw_segments.sort()
    stored.segments = [
        (seq, [Pane.from_record(record) for record in orjson.loads(raw)])
        for seq, raw in raw_segments
    ]
    return stored


class SegmentLedger:
    """Which pane segment holds the newest stored version of each pane, and which segments
    no pane needs any more (to be deleted)."""

    def __init__(self, partition: int) -> None:
        self.partition = partition
        self._segment_of: dict[PaneKey, int] = {}
        self._live: dict[int, int] = {}
        self._dead: list[int] = []
        self._next_seq = 0

    def loaded(self, seq: int, keys: list[PaneKey]) -> None:
        """Segment ``seq`` was read back with the (distinct) panes ``keys``."""
        self._move_all(keys, seq)
        self._next_seq = seq + 1

    def finish_loading(self) -> None:
        """After loading: segments left without a live pane become deletable."""
        self._dead.extend(seq for seq, n in self._live.items() if n == 0)

    def forget(self, key: PaneKey) -> None:
        """Pane ``key`` was retired: its segment holds one live pane less."""
        old = self._segment_of.pop(key, None)
        if old is not None:
            self._release(old)

    def write(self, changed: list[tuple[PaneKey, Pane]]) -> list[tuple[bytes, bytes | None]]:
        """The ``changed`` panes as new segments (key, value), then the deletions of the
        segments they superseded entirely."""
        out: list[tuple[bytes, bytes | None]] = []
        chunks = [changed[i : i + SEGMENT_PANES] for i in range(0, len(changed), SEGMENT_PANES)]
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

    def _release(self, seq: int) -> None:
        """One live pane of segment ``seq`` less; a segment left without any is deletable."""
        left = self._live[seq] - 1
        if left:
            self._live[seq] = left
        else:
            del self._live[seq]
            self._dead.append(seq)

    def _move_all(self, keys: list[PaneKey], seq: int) -> None:
        """The newest stored version of each of ``keys`` (distinct) is in segment ``seq``."""
        segment_of = self._segment_of
        for key in keys:
            old = segment_of.get(key)
            if old is not None:
                self._release(old)
            segment_of[key] = seq
        self._live[seq] = len(keys)
