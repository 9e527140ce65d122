"""Clock notes: the wall-clock time a worker judged a record by, where that time mattered.

A worker judges each record against its *reference time*: the record timestamp, capped by
its wall clock ``now`` (:mod:`streams.pipeline`). On a topic with broker timestamps
(LogAppendTime) the cap never bites, and replay, which has no wall clock, takes the same
decisions from the timestamps alone. On a CreateTime topic a producer may stamp records
ahead of the worker's clock (Kafka 4 accepts up to an hour by default). The cap then
changes a decision input exactly when the event time is ahead of the capped reference: the
future check or the event's watermark progress ``min(event time, reference)`` differs.

For those records only, the worker notes ``offset -> now``:

1. in its window state (key ``n|<partition>``, beside the clock), made durable before any
   output of the batch: a worker that crashes and reads the batch again judges the noted
   offsets by the noted time, so every attempt takes the same decisions;
2. then on the topic ``city.clock.v1`` (:data:`schemas.topics.CLOCK_TOPIC`), one record per
   batch, partition and time, keyed ``<topic>|<partition>``: replay reads it and judges
   the noted offsets as the worker did. Every note of an offset carries the same time (a
   note reaches the topic only once it is durable in the state), so duplicates from
   re-processing are harmless.

Records whose cap does not matter (all of them, normally) are noted nowhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

import orjson

from common.errors import UserError

NoteKey = tuple[str, int]
"""(raw topic, partition) of the records a note is about."""


def notes_store_key(partition: int) -> bytes:
    """Key of a partition's pending clock notes in the state table."""
    return f"n|{partition}".encode()


class ClockNotes:
    """The noted wall-clock times of one partition's records: ``at[offset] = now``."""

    __slots__ = ("at", "through")

    def __init__(self, at: Mapping[int, float] | None = None) -> None:
        self.at: dict[int, float] = dict(at or {})
        self.through: int = max(self.at, default=-1)
        """The highest noted offset (-1: none): a record above it needs no look-up."""

    def __len__(self) -> int:
        return len(self.at)

    def add(self, offset: int, now: float) -> None:
        """Note that the record at ``offset`` was judged at wall-clock time ``now``."""
        self.at[offset] = now
        if offset > self.through:
            self.through = offset

    def forget_through(self, offset: int) -> None:
        """Drop the notes of offsets up to ``offset`` (their decisions are durable)."""
        if self.at and min(self.at) <= offset:
            self.at = {o: t for o, t in self.at.items() if o > offset}
            self.through = max(self.at, default=-1)

    def encode(self) -> bytes:
        """The notes as state-table bytes: ``[[now, [offsets...]], ...]``."""
        return orjson.dumps([[now, offsets] for now, offsets in _by_time(self.at).items()])

    @classmethod
    def decode(cls, raw: bytes) -> ClockNotes:
        """The notes stored as ``raw`` by :meth:`encode`."""
        return cls({offset: now for now, offsets in orjson.loads(raw) for offset in offsets})


def _by_time(at: Mapping[int, float]) -> dict[float, list[int]]:
    """Offsets grouped by their noted time, each group in offset order."""
    groups: dict[float, list[int]] = {}
    for offset, now in sorted(at.items()):
        groups.setdefault(now, []).append(offset)
    return groups


NOTE_FIELDS: Final = ("topic", "partition", "now", "offsets")


def note_records(
    topic: str, notes: Mapping[int, Mapping[int, float]]
) -> list[tuple[bytes | None, bytes]]:
    """The ``city.clock.v1`` records of one batch's notes (partition -> offset -> now):
    one per partition and time, keyed ``<topic>|<partition>``."""
    out: list[tuple[bytes | None, bytes]] = []
    for partition, at in sorted(notes.items()):
        key = f"{topic}|{partition}".encode()
        for now, offsets in _by_time(at).items():
            value = {"topic": topic, "partition": partition, "now": now, "offsets": offsets}
            out.append((key, orjson.dumps(value)))
    return out


class NoteBook:
    """Every clock note read from ``city.clock.v1``, by (topic, partition): what replay
    judges the noted records by."""

    def __init__(self) -> None:
        self.notes: dict[NoteKey, dict[int, float]] = {}
        self.records = 0

    def add_record(self, value: bytes | None) -> None:
        """Take one ``city.clock.v1`` record; UserError when it is not a clock note."""
        try:
            note = orjson.loads(value or b"null")
            topic, partition, now, offsets = (note[name] for name in NOTE_FIELDS)
            at = self.notes.setdefault((str(topic), int(partition)), {})
            for offset in offsets:
                at[int(offset)] = float(now)
        except (orjson.JSONDecodeError, TypeError, KeyError, ValueError) as error:
            raise UserError(
                f"a record of the clock-note topic is not a clock note ({error}): "
                f"{(value or b'')[:200]!r}"
            ) from error
        self.records += 1

    def add_records(self, values: Iterable[bytes | None]) -> None:
        """Take several ``city.clock.v1`` records, in topic order."""
        for value in values:
            self.add_record(value)

    def of(self, topic: str, partition: int) -> ClockNotes:
        """The notes of one partition (empty when the worker noted none)."""
        return ClockNotes(self.notes.get((topic, partition)))

    @property
    def noted(self) -> int:
        """Records noted over all partitions."""
        return sum(len(at) for at in self.notes.values())
