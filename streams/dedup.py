"""Once per event (design.md, invariant 6): the ``event_id`` index of one source partition.

An event id is remembered from the first time an event with it is windowed until the
partition's watermark has passed that event's time by the horizon (by default the largest
window plus the grace: 1 h 30 s). Any later event with the same id, whatever its minute or
entity, is a duplicate and reaches no pane. Expiry depends only on the partition's events,
so replay takes the same decisions.

Persistence: the ids added since the last write are stored as one segment (key
:func:`id_store_key`, value a JSON list of ``[id, event time, offset]``); a segment is
deleted once every id in it expired. Loading reads every segment and drops expired ids
again, and the ids of offsets the stored clock has not processed: a crash may have stored
them ahead of the clock, and their records are read again.
Bounded: above ``cap`` ids the oldest minutes are forgotten early (counted in ``evicted``).
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Iterable
from typing import Final

import orjson

DEFAULT_HORIZON_SECONDS: Final = 3600.0 + 30.0
DEFAULT_CAP: Final = 2_000_000
_MINUTE: Final = 60


def id_store_key(partition: int, seq: int) -> bytes:
    """Key of an event-id segment in the state table."""
    return f"i|{partition}|{seq:012d}".encode()


class EventIdIndex:
    """Event ids of one partition with the event time they were first windowed at."""

    def __init__(self, horizon_seconds: float = DEFAULT_HORIZON_SECONDS, cap: int = DEFAULT_CAP):
        self.horizon = horizon_seconds
        self.cap = cap
        self.seen: dict[str, float] = {}
        """Event id -> event time it was first windowed at. An id is a duplicate while that
        time is at least the watermark minus the horizon (``PartitionWindows.admit`` asks,
        inline on the hot path); ids past it may linger until :meth:`expire` purges them,
        so the answer does not depend on batch boundaries."""
        self.evicted = 0
        self._minutes: dict[int, list[str]] = {}
        self._order: list[int] = []
        self._new: list[tuple[str, float, int]] = []
        self._unbucketed = 0
        """How many ids at the start of ``_new`` are in ``_minutes`` already: :meth:`add`
        leaves the bucketing to :meth:`_bucket_new`, once per batch."""
        self._segments: deque[tuple[int, float]] = deque()
        """(seq, newest event time in it) of each stored segment, in write order; deleted
        from the oldest on (a segment waits for the older ones: a little longer kept)."""
        self._dead: list[int] = []
        self._next_seq = 0

    def add(self, event_id: str, t: float, offset: int) -> None:
        """Remember ``event_id`` (first windowed at event time ``t``, source ``offset``)."""
        seen = self.seen
        seen[event_id] = t
        self._new.append((event_id, t, offset))
        if len(seen) > self.cap:
            self._bucket_new()
            self.evicted += self._forget_oldest(len(seen) - self.cap)

    def _bucket_new(self) -> None:
        """File the ids :meth:`add` queued under their minutes."""
        new = self._new
        self._file(new[self._unbucketed :])
        self._unbucketed = len(new)

    def _file(self, ids: Iterable[tuple[str, float, int]]) -> None:
        """File each (id, event time, offset) of ``ids`` under the minute of its time."""
        minutes, order = self._minutes, self._order
        for event_id, t, _ in ids:
            minute = int(t // _MINUTE)
            bucket = minutes.get(minute)
            if bucket is None:
                bucket = minutes[minute] = []
                heapq.heappush(order, minute)
            bucket.append(event_id)

    def _forget_oldest(self, at_least: int) -> int:
        forgotten = 0
        while forgotten < at_least and self._order:
            forgotten += self._drop_minute(heapq.heappop(self._order))
        return forgotten

    def _drop_minute(self, minute: int) -> int:
        dropped = 0
        for event_id in self._minutes.pop(minute, ()):
            t = self.seen.get(event_id)
            if t is not None and int(t // _MINUTE) == minute:
                del self.seen[event_id]
                dropped += 1
        return dropped

    def expire(self, watermark: float) -> None:
        """Forget ids whose event time the watermark passed by more than the horizon."""
        self._bucket_new()
        cutoff = watermark - self.horizon
        order = self._order
        while order and (order[0] + 1) * _MINUTE <= cutoff:
            self._drop_minute(heapq.heappop(order))
        segments = self._segments
        while segments and segments[0][1] < cutoff:
            self._dead.append(segments.popleft()[0])

    def take_writes(self, partition: int) -> list[tuple[bytes, bytes | None]]:
        """The ids added since the last call as a new segment, then the deletions of the
        segments whose ids all expired."""
        out: list[tuple[bytes, bytes | None]] = []
        if self._new:
            self._bucket_new()
            seq = self._next_seq
            self._next_seq += 1
            self._segments.append((seq, max(item[1] for item in self._new)))
            out.append((id_store_key(partition, seq), orjson.dumps(self._new)))
            self._new = []
            self._unbucketed = 0
        out.extend((id_store_key(partition, seq), None) for seq in self._dead)
        self._dead = []
        return out

    def load(
        self, segments: Iterable[tuple[int, bytes]], watermark: float, processed_offset: int
    ) -> None:
        """Rebuild from stored segments (seq, value): without the ids the watermark expired
        or that come from offsets after ``processed_offset``."""
        for seq, raw in sorted(segments):
            items = orjson.loads(raw)
            kept: list[tuple[str, float, int]] = []
            for event_id, t, offset in items:
                if offset <= processed_offset and event_id not in self.seen:
                    self.seen[event_id] = t
                    kept.append((event_id, t, offset))
            self._file(kept)
            self._segments.append((seq, max((item[1] for item in items), default=-math.inf)))
            self._next_seq = seq + 1
        if len(self.seen) > self.cap:
            self.evicted += self._forget_oldest(len(self.seen) - self.cap)
        self.expire(watermark)
