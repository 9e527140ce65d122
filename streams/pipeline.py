"""From raw records to window updates and KPI rows: the I/O-free core of a worker.

A :class:`TopicPipeline` owns the :class:`~streams.windows.PartitionWindows` of one raw
topic's partitions. The Faust agent (``streams.worker.app``), replay and the tests feed it records
and carry out what it returns, in this order, which keeps every KPI exact across crashes:

0. while a batch names entities nobody claimed yet, :meth:`TopicPipeline.apply` stops at
   the first: append their claims to the claims log, read it back, apply the rest
   (:mod:`streams.routing`);
1. store the batch's clock notes, if any (:meth:`TopicPipeline.note_writes`), wait until
   the broker has them, then produce them to city.clock.v1 (:mod:`streams.clocknotes`);
   produce re-routed copies (:mod:`streams.routing`), dead letters and late events, and
   wait until the broker has them all;
2. close the windows the watermarks passed (in memory: :meth:`TopicPipeline.close`);
3. write the changed panes to the state table, except those the closing retires (no window
   needs them any more; until the clock below is written, a restart reads the records
   that changed them again);
4. produce the rows of closed windows and wait until the broker has them;
5. write each partition clock (its ``closed_until`` says those windows are emitted);
6. delete retired panes (tombstones).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Final

import orjson

from schemas.decode import ReasonKind, Rejection, decode
from schemas.events import RawEvent, SensorReading
from streams.catalog import entities_of
from streams.clocknotes import notes_store_key
from streams.dedup import DEFAULT_HORIZON_SECONDS
from streams.progress import (
    MARKER_KEY,
    PROGRESS_HEADER,
    is_marker,
    marker_value,
    read_marker,
)
from streams.routing import Claim, district_partition, is_rerouted, reroute_header
from streams.step_records import (
    Applied,
    Record,
    Reroute,
    SourceRecord,
    StateWrite,
    late_record,
)
from streams.windows import REFUSED, Closing, Outcome, PartitionWindows

__all__ = [
    "Applied",
    "Record",
    "Reroute",
    "SourceRecord",
    "StateWrite",
    "TopicPipeline",
    "late_record",
]


_REFUSAL_KINDS: Final[dict[Outcome, ReasonKind]] = {
    Outcome.MISROUTED: "misrouted",
    Outcome.ENTITY_DISTRICT: "entity_district",
}
_WINDOWED: Final = Outcome.WINDOWED
_MISROUTED: Final = Outcome.MISROUTED
_LATE: Final = Outcome.LATE
_UNCLAIMED: Final = Outcome.UNCLAIMED


class TopicPipeline:
    """Window state and processing of one raw topic."""

    def __init__(
        self,
        topic: str,
        grace_seconds: float,
        future_skew_seconds: float,
        partition_count: int | None = None,
        dedup_horizon_seconds: float = DEFAULT_HORIZON_SECONDS,
        fixed_districts: Mapping[str, str] | None = None,
        claims_required: bool = False,
    ) -> None:
        self.topic = topic
        self.fixed_districts = fixed_districts
        """The province's entity registry (``IOC_ENTITY_REGISTRY``) and the entities'
        claims (:class:`~streams.routing.EntityClaims`), None when neither is given."""
        self.claims_required = claims_required
        """True (the worker): an entity nobody claimed is claimed before it is windowed."""
        self.grace = grace_seconds
        self.future_skew = future_skew_seconds
        self.partition_count = partition_count
        """The topic's partitions, for the key contract (None: no routing check)."""
        self.dedup_horizon = dedup_horizon_seconds
        self.partitions: dict[int, PartitionWindows] = {}

    def decode(self, record: Record, reference_ms: float | None = None) -> RawEvent | Rejection:
        """Validate one record's bytes; ``reference_ms`` is the time the future check
        measures against (default: the record timestamp)."""
        return decode(
            record.topic,
            record.value,
            produced_at_ms=record.timestamp if reference_ms is None else reference_ms,
            future_skew_seconds=self.future_skew,
        )

    def new_windows(self, partition: int) -> PartitionWindows:
        """Empty window state of one partition, configured as this pipeline is."""
        return PartitionWindows(
            self.topic,
            partition,
            self.grace,
            self.partition_count,
            self.dedup_horizon,
            fixed_districts=self.fixed_districts,
            claims_required=self.claims_required,
        )

    def is_loaded(self, partition: int) -> bool:
        """True when the partition's state is in memory."""
        return partition in self.partitions

    def load(self, partition: int, items: Iterable[tuple[bytes, bytes]]) -> PartitionWindows:
        """Bring a partition's state into memory from state-table items."""
        windows = self.new_windows(partition)
        windows.load(items)
        self.partitions[partition] = windows
        return windows

    def drop(self, partition: int) -> None:
        """Forget a partition (revoked from this worker)."""
        self.partitions.pop(partition, None)

    def windows(self, partition: int) -> PartitionWindows:
        """The window state of a loaded partition."""
        return self.partitions[partition]

    def apply(
        self, records: Sequence[Record], now: float | None = None, into: Applied | None = None
    ) -> Applied:
        """Validate and fold records (in offset order per partition) into their windows.

        Each record is judged against its reference time: its timestamp, capped by the
        wall clock ``now`` (seconds) when given, so a producer-set timestamp alone never
        lets a future event in or moves a watermark past the present. A record with a
        clock note (judged before: a batch read again after a crash, or replay reading the
        worker's notes) is capped by the noted time instead. Where ``now`` changed a
        decision, the record is noted (``Applied.clock_notes``). Replay passes no ``now``.

        With claims required, the batch stops at the first record whose entity nobody
        claimed: ``Applied.unclaimed`` lists the claims the rest needs, ``Applied.rest`` its
        records; once the claims are read back, apply ``rest`` with ``into`` the same
        :class:`Applied` and the same ``now``.
        """
        applied = into or Applied(consumed=len(records), touched={r.partition for r in records})
        applied.unclaimed, applied.rest = [], ()
        outcomes = dict.fromkeys(Outcome, 0)
        windowed = 0  # the common outcome, counted without hashing an Enum per event
        partitions = self.partitions
        judge = self._judge
        readings: dict[str, SensorReading] = {}
        for record in records:
            windows = partitions[record.partition]
            offset = record.offset
            if offset <= windows.clock.processed_offset:
                outcomes[Outcome.REDELIVERY] += 1
                continue
            if record.headers and is_marker(record.headers):
                self._hear(record, windows, applied)
                continue
            result, reference = judge(record, windows, now, applied)
            if isinstance(result, Rejection):
                windows.clock.processed_offset = offset
                windows.clock_dirty = True
                applied.dead_letter(record, result)
                continue
            copy = bool(record.headers) and is_rerouted(record.headers)
            outcome = windows.apply(offset, result, reference, copy)
            if outcome is _WINDOWED:
                windowed += 1
            elif outcome is _UNCLAIMED:
                applied.rest = records[records.index(record) :]
                applied.unclaimed = self._unclaimed(result, applied.rest[1:])
                break
            elif outcome is _MISROUTED and not copy:
                outcomes[Outcome.REROUTED] += 1
                applied.reroutes.append(self._reroute(record, result))
                continue
            elif outcome in REFUSED:
                refusal = windows.refusal(outcome, result)
                applied.dead_letter(record, Rejection(_REFUSAL_KINDS[outcome], refusal))
                continue
            else:
                outcomes[outcome] += 1
                if outcome is _LATE:
                    applied.lates.append((record.key, late_record(record, result)))
            if type(result) is SensorReading:
                readings[result.sensor_id] = result
        outcomes[_WINDOWED] += windowed
        applied.outcomes.update({o.value: n for o, n in outcomes.items() if n})
        for sensor_id, reading in readings.items():
            applied.sensors_seen[(sensor_id, reading.district.value)] = (
                reading.occurred_at.timestamp()
            )
        return applied

    def _hear(self, record: Record, windows: PartitionWindows, applied: Applied) -> None:
        """Take a progress marker (:mod:`streams.progress`); one this worker cannot have
        written is dead-lettered. Neither counts as a consumed event."""
        windows.clock.processed_offset = record.offset
        windows.clock_dirty = True
        heard = read_marker(
            record.value, record.headers, self.partition_count or 1, record.partition
        )
        if isinstance(heard, str):
            applied.dead_letter(record, Rejection("malformed", heard))
            return
        applied.consumed -= 1
        applied.markers_read += 1
        windows.hear(*heard)

    def progress_markers(
        self, partitions: Iterable[int], caught_up: Collection[int] = ()
    ) -> list[Reroute]:
        """The progress markers due from each of ``partitions`` to the topic's other
        partitions (:meth:`PartitionWindows.statements`; ``caught_up``: those with nothing
        left to read). Produce them after the copies those partitions made, once the broker
        has the copies."""
        out: list[Reroute] = []
        if (self.partition_count or 1) < 2:
            return out
        for partition in sorted(partitions):
            windows = self.partitions[partition]
            headers = [(PROGRESS_HEADER, str(partition).encode())]
            out.extend(
                Reroute(peer, MARKER_KEY, marker_value(partition, minute), None, list(headers))
                for peer, minute in windows.statements(partition in caught_up)
            )
        return out

    def _judge(
        self, record: Record, windows: PartitionWindows, now: float | None, applied: Applied
    ) -> tuple[RawEvent | Rejection, float]:
        """Decode ``record`` against its reference time (see :meth:`apply`): the noted time
        when it has a clock note, else its timestamp capped by ``now``; note the record
        when ``now`` changed its decision. Returns the result and the reference time."""
        offset = record.offset
        notes = windows.notes
        noted = notes.at.get(offset) if offset <= notes.through else None
        timestamp = record.timestamp  # ms; the reference time is in seconds, +inf unknown
        reference = math.inf if timestamp is None or timestamp < 0 else timestamp / 1000.0
        if noted is None:
            if now is not None and now < reference:
                reference = now
        else:  # judged before (a batch read again, or replay): by the same clock
            if noted < reference:
                reference = noted
            applied.note(record.partition, offset, noted)
        result = self.decode(record, None if reference == math.inf else reference * 1000.0)
        if reference == now and noted is None and _clock_decides(result, reference):
            notes.add(offset, reference)
            applied.note(record.partition, offset, reference)
            applied.noted.add(record.partition)
        return result, reference

    def _unclaimed(self, first: RawEvent, records: Sequence[Record]) -> list[Claim]:
        """The claim of ``first`` (an event whose entity nobody claimed), then one for each
        entity of ``records`` (valid events in their district's partition) that neither a
        partition nor a claim names yet, in record order.

        A record whose entity id (read from its JSON without validation) is known or
        claimed already is not validated: the first record of each new entity is."""
        claim = _claim_of(first)
        claims = {claim.entity_id: claim}
        fixed = self.fixed_districts or {}
        for record in records:
            known = self.partitions[record.partition].registry.districts
            hint = _entity_id_of(record.value)
            if hint is not None and (hint in claims or hint in fixed or hint in known):
                continue
            event = self.decode(record)
            if isinstance(event, Rejection):
                continue
            claim = _claim_of(event)
            if district_partition(claim.district, self.partition_count or 1) != record.partition:
                continue
            if claim.entity_id not in fixed and claim.entity_id not in known:
                claims.setdefault(claim.entity_id, claim)
        return list(claims.values())

    def _reroute(self, record: Record, event: RawEvent) -> Reroute:
        district = event.district.value
        home = district_partition(district, self.partition_count or 1)
        return Reroute(
            home,
            district.encode(),
            record.value,
            record.timestamp,
            [reroute_header(record.partition, record.offset)],
        )

    def note_writes(self, applied: Applied) -> list[StateWrite]:
        """The pending clock notes of the partitions ``applied`` noted anew (step 1)."""
        return [
            StateWrite(p, notes_store_key(p), self.partitions[p].notes.encode())
            for p in sorted(applied.noted)
        ]

    def pane_writes(
        self, partitions: Iterable[int], closings: dict[int, Closing] | None = None
    ) -> list[StateWrite]:
        """Changed panes of ``partitions`` as state writes (step 3), without the panes
        ``closings`` retire."""
        closings = closings or {}
        writes: list[StateWrite] = []
        for partition in sorted(partitions):
            windows = self.partitions[partition]
            closing = closings.get(partition)
            retired = closing.retired if closing is not None else ()
            writes.extend(StateWrite(partition, k, v) for k, v in windows.take_dirty(retired))
        return writes

    def close(self, partitions: Iterable[int]) -> dict[int, Closing]:
        """Close every window the watermarks passed (step 2; rows for step 4)."""
        closings: dict[int, Closing] = {}
        for partition in sorted(partitions):
            closing = self.partitions[partition].close()
            if closing is not None:
                closings[partition] = closing
        return closings

    def clock_writes(self, partitions: Iterable[int]) -> list[StateWrite]:
        """Clocks that changed, as state writes (step 5)."""
        writes: list[StateWrite] = []
        for partition in sorted(partitions):
            windows = self.partitions[partition]
            if windows.clock_dirty:
                writes.extend(StateWrite(partition, k, v) for k, v in windows.clock_items())
        return writes

    def retire(self, closings: dict[int, Closing]) -> list[StateWrite]:
        """Forget retired panes; deletions of the state they leave unused (step 6)."""
        writes: list[StateWrite] = []
        for partition, closing in sorted(closings.items()):
            windows = self.partitions[partition]
            windows.retire(closing.retired)
            writes.extend(StateWrite(partition, k, v) for k, v in windows.take_dead())
        return writes

    def state_entries(self) -> int:
        """Open panes over all loaded partitions."""
        return sum(w.pane_count for w in self.partitions.values())


def _entity_id_of(value: bytes | None) -> str | None:
    """The agency, site or sensor id a record's JSON names, unvalidated; None when it
    names none or is no JSON object."""
    try:
        fields = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        return None
    if not isinstance(fields, dict):
        return None
    entity = fields.get("sensor_id") or fields.get("site_id") or fields.get("agency_id")
    return entity if isinstance(entity, str) else None


def _claim_of(event: RawEvent) -> Claim:
    """The claim that ``event``'s entity (agency, site or sensor) lies in its district."""
    (_, district), (kind, entity_id) = entities_of(event)
    return Claim(kind.value, entity_id, district)


def _clock_decides(result: RawEvent | Rejection, reference: float) -> bool:
    """Whether a record judged against a wall-clock ``reference`` (below its timestamp)
    would be judged otherwise by its timestamp: rejected as future, or an event ahead of
    the reference (its watermark progress is capped)."""
    if isinstance(result, Rejection):
        return result.reason_kind == "future"
    return result.occurred_at.timestamp() > reference
