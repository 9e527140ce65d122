"""What a pipeline step reads and what it produces: raw records in; re-routed copies, dead
letters, late records, clock notes and state writes out (:mod:`streams.pipeline`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

import orjson

from schemas.decode import Rejection, deadletter_record
from schemas.events import RawEvent
from streams.routing import Claim


class Record(Protocol):
    """One Kafka record of a raw topic, as the pipeline reads it: aiokafka's
    ``ConsumerRecord`` as fetched, or a :class:`SourceRecord`."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def timestamp(self) -> int | None:
        """Broker (or producer) time in milliseconds."""

    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


class SourceRecord(NamedTuple):
    """One Kafka record of a raw topic built by hand (replay, tests): a :class:`Record`."""

    topic: str
    partition: int
    offset: int
    timestamp: int | None
    """Milliseconds, as in aiokafka's ``ConsumerRecord``."""
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]] = ()


class Reroute(NamedTuple):
    """A record for another partition of the same topic: the copy of a misplaced record
    for its district's partition, or a progress marker (:mod:`streams.progress`)."""

    partition: int
    key: bytes
    value: bytes | None
    timestamp_ms: int | None
    headers: list[tuple[str, bytes]]


@dataclass
class Applied:
    """What applying one batch produced, before any window closes."""

    deadletters: list[tuple[bytes | None, bytes]] = field(default_factory=list)
    lates: list[tuple[bytes | None, bytes]] = field(default_factory=list)
    reroutes: list[Reroute] = field(default_factory=list)
    """Copies of misplaced records to produce to their districts' partitions (step 1)."""
    consumed: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    invalid: Counter[str] = field(default_factory=Counter)
    touched: set[int] = field(default_factory=set)
    sensors_seen: dict[tuple[str, str], float] = field(default_factory=dict)
    clock_notes: dict[int, dict[int, float]] = field(default_factory=dict)
    """partition -> offset -> wall-clock time the record was judged by, for the records
    whose decision that time changed (:mod:`streams.clocknotes`): city.clock.v1 records."""
    noted: set[int] = field(default_factory=set)
    """Partitions with new clock notes: their notes must be stored before any output."""
    unclaimed: list[Claim] = field(default_factory=list)
    """Claims for the entities nobody claimed yet of the records not applied (``rest``)."""
    rest: Sequence[Record] = ()
    """Records not applied yet: the batch stopped at an unclaimed entity."""
    markers_read: int = 0
    """Progress markers taken (:mod:`streams.progress`): records, not events, so not in
    ``consumed``."""

    def note(self, partition: int, offset: int, now: float) -> None:
        """Record that ``now`` judged the record at ``offset`` of ``partition``."""
        at = self.clock_notes.get(partition)
        if at is None:
            at = self.clock_notes[partition] = {}
        at[offset] = now

    def dead_letter(self, record: Record, rejection: Rejection) -> None:
        """Count ``record`` as invalid for ``rejection`` and queue its dead letter."""
        self.invalid[rejection.reason_kind] += 1
        value = deadletter_record(
            record.topic, record.partition, record.offset, record.value, rejection
        )
        self.deadletters.append((record.key, value))


@dataclass
class StateWrite:
    """One write to the state table: ``value`` None deletes the key."""

    partition: int
    key: bytes
    value: bytes | None


def late_record(record: Record, event: RawEvent) -> bytes:
    """The city.late.v1 value of a late event: origin plus the original event JSON."""
    return orjson.dumps(
        {
            "origin": {
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
            },
            "occurred_at": event.occurred_at.isoformat(),
            "event_id": event.event_id,
            "value": orjson.loads(record.value or b"null"),
        }
    )
