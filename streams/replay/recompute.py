"""Recompute KPI rows exactly as a worker does: the same TopicPipeline, fed in offset order.

Records of each partition are applied in offset order and windows are closed after every
batch, as the worker does (closing never changes which events are late: ``closed_until``
never passes the watermark). Every record read is applied, whatever its ``occurred_at``:
the watermark, hence lateness, depends on all of them; only the rows are restricted to the
:class:`~streams.replay.selection.Selection`.

At the end each partition's watermark is advanced to the end of the range, as an idle
partition's would be, so every window inside the range closes. Rows of windows ending after
the partition's final event watermark are *open*: a worker closes them only through its
wall-clock idle advance.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from schemas.decode import Rejection
from schemas.events import RawEvent
from streams.clocknotes import NoteBook
from streams.pipeline import Record, TopicPipeline
from streams.replay.selection import Selection
from streams.windows import (
    PANE_SECONDS,
    WINDOW_KINDS,
    Closing,
    EntityKey,
    KpiRow,
    Outcome,
    PartitionWindows,
    rows_of,
)

Identity = tuple[str, str, str, dt.datetime, dt.datetime]

DUPLICATE_OUTCOMES = frozenset({Outcome.REDELIVERY.value, Outcome.DUPLICATE_ID.value})
_COUNTED_AS = {
    Outcome.ENTITY_DISTRICT: "invalid",
    Outcome.MISROUTED: Outcome.REROUTED.value,  # a copy misplaced again is rare: see routing
}


@dataclass
class TopicStats:
    """Counts of one topic: every record read, and the events of the range by outcome.

    ``outcomes``: windowed / late / redelivery / event_id over all valid records read;
    ``invalid``: rejections by reason; ``in_range``: outcomes of the events whose own
    ``occurred_at`` lies in the range, plus ``invalid`` for rejected records whose record
    timestamp does.
    """

    topic: str
    read: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    invalid: Counter[str] = field(default_factory=Counter)
    in_range: Counter[str] = field(default_factory=Counter)
    outside: int = 0
    """Valid, not late events whose minute lies outside the range: replay only advances the
    watermark with them (their panes feed no window of the range), so it does not tell
    windowed from duplicate for them."""

    def summary(self) -> dict[str, int]:
        """read / windowed / late / invalid / duplicate / outside over all records read."""
        return {
            "read": self.read,
            "windowed": self.outcomes[Outcome.WINDOWED.value] - self.outside,
            "late": self.outcomes[Outcome.LATE.value],
            "invalid": sum(self.invalid.values()),
            "duplicate": sum(self.outcomes[o] for o in DUPLICATE_OUTCOMES),
            "rerouted": self.outcomes[Outcome.REROUTED.value],
            "outside": self.outside,
        }

    def range_summary(self) -> dict[str, int]:
        """events / windowed / late / invalid / duplicate of the events in the range."""
        c = self.in_range
        return {
            "events": sum(c.values()),
            "windowed": c[Outcome.WINDOWED.value],
            "late": c[Outcome.LATE.value],
            "invalid": c["invalid"],
            "duplicate": sum(c[o] for o in DUPLICATE_OUTCOMES),
            "rerouted": c[Outcome.REROUTED.value],
        }


class _Windows(PartitionWindows):
    """PartitionWindows that counts the outcome of the events inside the range, folds only
    events whose minute overlaps the range, and builds rows only for the windows the
    selection keeps.

    Each skip is only a saving. Whether an event is late depends on the partition clock
    alone, which every event still moves exactly as :meth:`PartitionWindows.apply` does; a
    window of the range holds only panes inside the range; and each KPI's state and each
    pane's lineage are independent of the other KPIs. So the panes not built, the KPIs left
    out of ``kpis`` and the rows not built change nothing in the kept rows (the property
    test in tests/replay/test_recompute.py compares with the worker's pipeline).
    """

    def __init__(
        self,
        topic: str,
        partition: int,
        grace: float,
        partitions: int | None,
        selection: Selection,
        stats: TopicStats,
        fixed_districts: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(
            topic,
            partition,
            grace,
            partitions,
            wanted=self._in_selection,
            fixed_districts=fixed_districts,
        )
        if selection.kpis:
            self.kpis = tuple(k for k in self.kpis if k.name in selection.kpis)
        self._start = selection.start
        self._end = selection.end
        self._entities = selection.entities
        self._sizes = frozenset(
            size for size, kind in WINDOW_KINDS.items() if kind in selection.window_kinds()
        )
        self._stats = stats
        self._counts = stats.in_range

    def apply(
        self, offset: int, event: RawEvent, reference: float = math.inf, copy: bool = False
    ) -> Outcome:
        """Admit as the worker does; fold only events whose minute overlaps the range, and
        count the outcome of those inside it."""
        outcome = self.admit(offset, event, reference, copy=copy)
        t = event.occurred_at.timestamp()
        pane_start = int(t // PANE_SECONDS) * PANE_SECONDS
        if pane_start + PANE_SECONDS <= self._start or pane_start >= self._end:
            if outcome is Outcome.WINDOWED:
                self._stats.outside += 1
            return outcome
        if outcome is Outcome.WINDOWED:
            outcome = self.fold(offset, event)
        if self._start <= t < self._end:
            self._counts[_COUNTED_AS.get(outcome, outcome.value)] += 1
        return outcome

    def _in_selection(self, entity: EntityKey, window_start: int, window_end: int) -> bool:
        return not (
            window_start < self._start
            or window_end > self._end
            or (window_end - window_start) not in self._sizes
            or (self._entities and entity not in self._entities)
        )


class _Pipeline(TopicPipeline):
    """TopicPipeline that counts rejected records of the range and keeps the range's records."""

    def __init__(
        self,
        topic: str,
        grace: float,
        skew: float,
        partitions: int | None,
        selection: Selection,
        stats: TopicStats,
        clock_notes: NoteBook,
        fixed_districts: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(topic, grace, skew, partitions, fixed_districts=fixed_districts)
        self.selection = selection
        self.stats = stats
        self.clock_notes = clock_notes
        self.keep_records = False
        self.kept: list[Record] = []

    def decode(self, record: Record, reference_ms: float | None = None) -> RawEvent | Rejection:
        """Decode as the worker does; remember records of the range when asked to."""
        result = super().decode(record, reference_ms)
        if isinstance(result, Rejection):
            ts = record.timestamp
            inside = ts is not None and self.selection.start <= ts / 1000 < self.selection.end
            if inside:
                self.stats.in_range["invalid"] += 1
        else:
            t = result.occurred_at.timestamp()
            inside = self.selection.start <= t < self.selection.end
        if inside and self.keep_records:
            self.kept.append(record)
        return result

    def ensure(self, partition: int) -> None:
        """Start the state of a partition the way a fresh worker does: empty, but for the
        worker's clock notes."""
        if not self.is_loaded(partition):
            windows = _Windows(
                self.topic,
                partition,
                self.grace,
                self.partition_count,
                self.selection,
                self.stats,
                self.fixed_districts,
            )
            windows.notes = self.clock_notes.of(self.topic, partition)
            self.partitions[partition] = windows


@dataclass
class Result:
    """Recomputed rows of the selection and where each partition's watermark ended."""

    rows: dict[Identity, KpiRow]
    open_rows: dict[Identity, KpiRow]
    watermarks: dict[tuple[str, int], float]
    stats: dict[str, TopicStats]
    split_entities: dict[tuple[str, str, str], set[int]] = field(default_factory=dict)
    """(topic, entity kind, entity id) -> partitions, for entities whose rows came from
    more than one partition of one topic (a district has rows from every topic)."""

    def watermark_of(self, topic: str, partition: int) -> float:
        """Final event watermark of a partition; +inf for a partition without events."""
        wm = self.watermarks.get((topic, partition), -math.inf)
        return math.inf if wm == -math.inf else wm


class Recomputer:
    """One pipeline per raw topic, fed record batches by :meth:`feed`; records the workers
    noted in ``clock_notes`` are judged by the noted wall-clock time, the others by their
    record timestamp, as the worker judged them; ``fixed_districts``: the province's entity
    registry the workers were given (``IOC_ENTITY_REGISTRY``)."""

    def __init__(
        self,
        selection: Selection,
        grace_seconds: float,
        future_skew_seconds: float,
        *,
        keep_records: bool = False,
        partition_counts: dict[str, int] | None = None,
        clock_notes: NoteBook | None = None,
        fixed_districts: Mapping[str, str] | None = None,
    ) -> None:
        self.selection = selection
        self.grace = grace_seconds
        self.stats = {t: TopicStats(t) for t in selection.topics}
        counts = partition_counts or {}
        notes = clock_notes or NoteBook()
        self.pipelines = {
            t: _Pipeline(
                t,
                grace_seconds,
                future_skew_seconds,
                counts.get(t),
                selection,
                self.stats[t],
                notes,
                fixed_districts,
            )
            for t in selection.topics
        }
        for pipeline in self.pipelines.values():
            pipeline.keep_records = keep_records
        self.rows: dict[Identity, KpiRow] = {}
        self.sources: dict[tuple[str, str, str], set[int]] = {}
        self.markers_read = 0
        """Progress markers read (streams.progress): records of the raw topics, not events."""

    def feed(self, topic: str, records: Sequence[Record]) -> None:
        """Apply records of ``topic`` (offset order per partition) and close what they allow."""
        pipeline = self.pipelines[topic]
        for partition in {r.partition for r in records}:
            pipeline.ensure(partition)
        applied = pipeline.apply(records)
        stats = self.stats[topic]
        stats.read += applied.consumed
        self.markers_read += applied.markers_read
        stats.outcomes.update(applied.outcomes)
        stats.invalid.update(applied.invalid)
        self._keep(pipeline, pipeline.close(applied.touched), self.rows)

    def take_kept(self, topic: str) -> list[Record]:
        """Records of the range seen since the last call (with ``keep_records``)."""
        pipeline = self.pipelines[topic]
        kept, pipeline.kept = pipeline.kept, []
        return kept

    def _keep(
        self, pipeline: TopicPipeline, closings: dict[int, Closing], rows: dict[Identity, KpiRow]
    ) -> None:
        keeps = self.selection.keeps
        for row in rows_of(closings):
            if keeps(row):
                entity = (row.source_topic, row.entity_kind, row.entity_id)
                self.sources.setdefault(entity, set()).add(row.source_partition)
                rows[row.identity()] = row
        pipeline.retire(closings)

    def finish(self) -> Result:
        """Close every window that ends inside the range; split closed and open rows.

        Rows closed while feeding end at or before their partition's final watermark; of
        the rows closed here, those ending after it are open.
        """
        watermarks: dict[tuple[str, int], float] = {}
        late_rows: dict[Identity, KpiRow] = {}
        for topic, pipeline in self.pipelines.items():
            for partition, windows in sorted(pipeline.partitions.items()):
                watermarks[(topic, partition)] = windows.clock.aligned
                windows.advance_to_end(self.selection.end + self.grace)
            self._keep(pipeline, pipeline.close(list(pipeline.partitions)), late_rows)
        split = {e: s for e, s in self.sources.items() if len(s) > 1}
        result = Result(self.rows, {}, watermarks, self.stats, split)
        for identity, row in late_rows.items():
            end = row.window_end.timestamp()
            closed = end <= result.watermark_of(row.source_topic, row.source_partition)
            (result.rows if closed else result.open_rows)[identity] = row
        return result
