"""Replay takes the worker's decisions on CreateTime topics: records stamped ahead of the
worker's wall clock are judged by the time the worker noted (city.clock.v1), and a worker
that reads a batch again after a crash judges it by the same time.

The worker runs with a fake wall clock (the time each batch is read); replay reads only the
notes the worker produced. Both are held against the independent oracle given the worker's
clock per record.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.errors import UserError
from schemas.decode import read_deadletter
from schemas.topics import FARM_TOPIC
from streams.clocknotes import ClockNotes, NoteBook, note_records
from streams.pipeline import Applied, SourceRecord, StateWrite, TopicPipeline
from streams.replay.recompute import Recomputer
from streams.replay.selection import Selection
from streams.window_rows import KpiRow
from streams.windows import rows_of
from tests.oracle import OracleRecord, expected_rows, judge, same_value
from tests.support.readings import salinity_reading

PARTITIONS = 2
DISTRICTS = ("chau-thanh", "vi-thanh")  # their partitions of two (murmur2)
GRACE = 30.0
SKEW = 300.0
HOUR = 3600.0
T0 = dt.datetime(2026, 3, 10, 9, 50, tzinfo=dt.UTC).timestamp()


def reading(n: int, occurred: float, partition: int, sensor: int = 0) -> bytes:
    district = DISTRICTS[partition]
    return salinity_reading(
        f"c{n}", occurred, district, f"{district}-sal-{sensor}",
        value=1.0 + n % 7, source="clock-notes",
    )  # fmt: skip


Batch = tuple[float, list[SourceRecord]]


@st.composite
def traffic(draw: st.DrawFn) -> list[Batch]:
    """Normal traffic (stamped when produced, some late or slightly ahead) with producers
    that stamp records up to an hour ahead of the broker, their events anywhere from the
    present to beyond that stamp; each batch with the worker's clock when it read it."""
    clock = T0
    offsets = [0] * PARTITIONS
    batches: list[Batch] = []
    n = 0
    for _ in range(draw(st.integers(1, 14))):
        records: list[SourceRecord] = []
        for _ in range(draw(st.integers(1, 20))):
            clock += draw(st.floats(0, 30))
            partition = draw(st.integers(0, PARTITIONS - 1))
            stamp, t = clock, clock - draw(st.floats(0, 20))
            shape = draw(st.integers(0, 9))
            if shape == 0:  # a late event
                t = clock - draw(st.floats(60, 900))
            elif shape == 1:  # a sensor clock a little ahead, honest record time
                t = clock + draw(st.floats(0, 200))
            elif shape <= 4:  # a forged record time, up to Kafka's one hour ahead
                stamp = clock + draw(st.floats(0.001, HOUR))
                t = draw(st.sampled_from([clock, stamp])) + draw(st.floats(-60, 400))
            value = reading(n, t, partition, draw(st.integers(0, 2)))
            if draw(st.integers(0, 19)) == 0:
                value = reading(draw(st.integers(0, n)), t, partition)  # a reused event id
            n += 1
            records.append(
                SourceRecord(
                    FARM_TOPIC, partition, offsets[partition], int(stamp * 1000), None, value
                )
            )
            offsets[partition] += 1
        batches.append((clock + draw(st.floats(0, 5)), records))
    return batches


def run_worker(batches: list[Batch]) -> tuple[list[KpiRow], Counter[str], list[bytes]]:
    """A worker's rows, outcome counts and city.clock.v1 values (no idle advance)."""
    pipeline = TopicPipeline(FARM_TOPIC, GRACE, SKEW, PARTITIONS)
    for partition in range(PARTITIONS):
        pipeline.load(partition, [])
    rows: list[KpiRow] = []
    counts: Counter[str] = Counter()
    notes: list[bytes] = []
    for now, records in batches:
        applied = pipeline.apply(records, now)
        notes += [value for _, value in note_records(FARM_TOPIC, applied.clock_notes)]
        counts.update(applied.outcomes)
        counts.update(applied.invalid)
        closings = pipeline.close(applied.touched)
        rows += rows_of(closings)
        pipeline.retire(closings)
    return rows, counts, notes


def run_replay(records: list[SourceRecord], notes: list[bytes], batch: int) -> Recomputer:
    book = NoteBook()
    book.add_records(notes)
    sel = Selection(T0 - 2 * HOUR, T0 + 6 * HOUR, topics=(FARM_TOPIC,))
    recomputer = Recomputer(sel, GRACE, SKEW, partition_counts={FARM_TOPIC: PARTITIONS},
                            clock_notes=book)  # fmt: skip
    for i in range(0, len(records), batch):
        recomputer.feed(FARM_TOPIC, records[i : i + batch])
    return recomputer


def replay_counts(recomputer: Recomputer) -> Counter[str]:
    stats = recomputer.stats[FARM_TOPIC]
    return Counter({**stats.outcomes, **stats.invalid})


@settings(max_examples=120, deadline=None)
@given(batches=traffic(), replay_batch=st.integers(1, 300))
def test_replay_with_the_workers_clock_notes_takes_its_decisions(
    batches: list[Batch], replay_batch: int
) -> None:
    worker_rows, worker_counts, notes = run_worker(batches)
    records = [r for _, batch in batches for r in batch]
    recomputer = run_replay(records, notes, replay_batch)
    result = recomputer.finish()

    assert replay_counts(recomputer) == worker_counts
    assert result.rows == {r.identity(): r for r in worker_rows}

    oracle_counts: Counter[str] = Counter()
    for partition in range(PARTITIONS):
        mine = [
            OracleRecord(r.partition, r.offset, r.timestamp, r.value, now)
            for now, batch in batches
            for r in batch
            if r.partition == partition
        ]
        verdicts = judge(FARM_TOPIC, partition, mine, partitions=PARTITIONS, grace=GRACE,
                         skew=SKEW, horizon=3630.0)  # fmt: skip
        oracle_counts.update(verdicts.outcomes)
        want = expected_rows(FARM_TOPIC, partition, verdicts.admitted)
        got = {
            (kpi, kind, entity, int(start.timestamp()), int(end.timestamp())): row
            for (kpi, kind, entity, start, end), row in {**result.rows, **result.open_rows}.items()
            if row.source_partition == partition
        }
        assert got.keys() == want.keys()
        for identity, row in got.items():
            assert same_value(row.value, want[identity].value), identity
            assert row.event_count == want[identity].event_count, identity
    assert worker_counts == oracle_counts


def forged_stream() -> tuple[float, list[SourceRecord]]:
    """Partition 0: on-time events, one 200 s ahead (inside the skew) and one 20 min ahead
    (beyond it), both stamped 50 min ahead, then on-time events again."""
    now = T0 + 100
    stamp = int((now + 3000) * 1000)
    values = [reading(i, T0 + i, 0) for i in range(40)]
    values += [reading(40, now + 200, 0), reading(41, now + 1200, 0)]
    values += [reading(42 + i, T0 + 60 + i, 0) for i in range(40)]
    stamps = [stamp if 40 <= o < 42 else int((T0 + o + 20) * 1000) for o in range(len(values))]
    records = [SourceRecord(FARM_TOPIC, 0, o, stamps[o], None, v) for o, v in enumerate(values)]
    return now, records


def test_without_the_notes_replay_decides_otherwise() -> None:
    """The case the notes exist for: replay by record time alone admits the event the
    worker dead-lettered as future, and makes the events after the forged ones late."""
    now, records = forged_stream()
    worker_rows, worker_counts, notes = run_worker([(now, records)])
    assert worker_counts == Counter({"windowed": 81, "future": 1})
    assert len(notes) == 1 and orjson.loads(notes[0])["offsets"] == [40, 41]
    blind = run_replay(records, [], 1000)
    assert replay_counts(blind)["future"] == 0 and replay_counts(blind)["late"] > 0
    informed = run_replay(records, notes, 7)
    assert replay_counts(informed) == worker_counts
    assert informed.finish().rows == {r.identity(): r for r in worker_rows}


def test_a_batch_read_again_after_a_crash_is_judged_by_the_noted_clock() -> None:
    """The notes are stored before any output: a worker that crashes before its clock is
    stored judges the batch again by the first attempt's time, not by its own later clock,
    and sends the same notes again."""
    now, records = forged_stream()
    first = TopicPipeline(FARM_TOPIC, GRACE, SKEW, PARTITIONS)
    first.load(0, [])
    applied = first.apply(records, now)
    state = {w.key: w.value for w in first.note_writes(applied) if w.value is not None}
    assert list(state) == [b"n|0"]

    again = TopicPipeline(FARM_TOPIC, GRACE, SKEW, PARTITIONS)
    again.load(0, state.items())  # no clock stored: every record is read again
    later = now + 900  # the event 20 min ahead is within the skew of this clock
    repeated: list[Applied] = [again.apply(records[i : i + 9], later) for i in range(0, 82, 9)]
    outcomes: Counter[str] = Counter()
    for step in repeated:
        outcomes.update(step.outcomes)
        outcomes.update(step.invalid)
    assert outcomes == Counter(applied.outcomes) + Counter(applied.invalid)
    assert again.windows(0).clock.watermark == first.windows(0).clock.watermark
    resent = {o: t for step in repeated for o, t in step.clock_notes.get(0, {}).items()}
    assert resent == applied.clock_notes[0] == {40: now, 41: now}
    assert not any(step.noted for step in repeated), "nothing new to store"


def test_notes_are_forgotten_once_the_clock_is_stored() -> None:
    now, records = forged_stream()
    pipeline = TopicPipeline(FARM_TOPIC, GRACE, SKEW, PARTITIONS)
    pipeline.load(0, [])
    applied = pipeline.apply(records, now)
    assert applied.noted == {0} and len(pipeline.windows(0).notes) == 2
    stored = dict((w.key, w.value) for w in pipeline.clock_writes([0]))
    assert len(pipeline.windows(0).notes) == 0
    reloaded = TopicPipeline(FARM_TOPIC, GRACE, SKEW, PARTITIONS)
    reloaded.load(0, [*((w.key, w.value) for w in pipeline.note_writes(applied)), *stored.items()])
    assert len(reloaded.windows(0).notes) == 0, "notes under the stored clock are stale"


def test_records_whose_cap_changes_nothing_are_not_noted() -> None:
    """Record times behind the clock, or ahead of it with events behind it: no note."""
    now = T0 + 100
    records = [
        SourceRecord(FARM_TOPIC, 0, 0, int((now - 1) * 1000), None, reading(0, now - 2, 0)),
        SourceRecord(FARM_TOPIC, 0, 1, int((now + 3000) * 1000), None, reading(1, now - 5, 0)),
        SourceRecord(FARM_TOPIC, 0, 2, int((now + 3000) * 1000), None, b"{broken"),
    ]
    pipeline = TopicPipeline(FARM_TOPIC, GRACE, SKEW, PARTITIONS)
    pipeline.load(0, [])
    applied = pipeline.apply(records, now)
    assert not applied.clock_notes and not applied.noted
    assert pipeline.note_writes(applied) == []


def test_clock_notes_round_trip() -> None:
    notes = ClockNotes({5: 1.5, 9: 2.25, 7: 1.5})
    assert notes.through == 9
    assert ClockNotes.decode(notes.encode()).at == notes.at
    notes.forget_through(7)
    assert notes.at == {9: 2.25} and notes.through == 9
    notes.forget_through(9)
    assert notes.at == {} and notes.through == -1
    book = NoteBook()
    book.add_records(v for _, v in note_records(FARM_TOPIC, {3: {10: 4.0, 12: 4.0, 11: 5.5}}))
    assert book.records == 2 and book.noted == 3
    assert book.of(FARM_TOPIC, 3).at == {10: 4.0, 11: 5.5, 12: 4.0}
    assert book.of(FARM_TOPIC, 2).at == {}


@pytest.mark.parametrize("value", [b"", b"[1]", b'{"topic": "t"}', b'{"now": 1}'])
def test_a_record_that_is_no_clock_note_is_an_error_a_user_can_act_on(value: bytes) -> None:
    with pytest.raises(UserError, match="not a clock note"):
        NoteBook().add_record(value)


def _persist(store: dict[bytes, bytes], writes: list[StateWrite]) -> None:
    for write in writes:
        if write.value is None:
            store.pop(write.key, None)
        else:
            store[write.key] = write.value


def _verdicts(applied: Applied) -> dict[int, str]:
    """Offset -> dead letter reason or "late", of one batch's outputs."""
    out = {
        d.origin_offset: d.reason_kind
        for d in map(read_deadletter, (v for _, v in applied.deadletters))
    }
    out.update((int(orjson.loads(v)["origin"]["offset"]), "late") for _, v in applied.lates)
    return out


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), crashes=st.lists(st.integers(1, 199), max_size=4))
def test_a_worker_crashing_anywhere_takes_one_decision_per_record_and_replay_takes_it_too(
    seed: int, crashes: list[int]
) -> None:
    """Write like the worker (notes awaited, then city.clock.v1, dead letters and lates,
    panes, rows, clock, tombstones), crash anywhere, lose an unflushed suffix of the
    state writes, restart later (a later wall clock) from an older committed offset.
    Every attempt judges a record alike, and replay with the notes gives the rows."""
    rng = random.Random(seed)
    arrival, records = T0, []
    for offset in range(200):
        arrival += rng.uniform(0, 20)
        stamp, t = arrival, arrival - rng.uniform(0, 20)
        if rng.random() < 0.25:  # forged up to an hour ahead
            stamp = arrival + rng.uniform(0.001, HOUR)
            t = rng.choice([arrival, stamp]) + rng.uniform(-60, 400)
        value = reading(offset, t, 0, rng.randrange(3))
        records.append(SourceRecord(FARM_TOPIC, 0, offset, int(stamp * 1000), None, value))
    arrivals = [r.timestamp / 1000 for r in records]  # upper bound of the honest arrivals

    store: dict[bytes, bytes] = {}
    clock_topic: list[bytes] = []
    kpi_rows: dict[tuple[str, str, str, dt.datetime, dt.datetime], KpiRow] = {}
    verdicts: dict[int, set[str]] = {}
    pipeline = TopicPipeline(FARM_TOPIC, GRACE, SKEW, PARTITIONS)
    pipeline.load(0, [])
    wall, committed, offset = T0, 0, 0
    crash_points = sorted(set(crashes))
    while offset < len(records):
        batch = records[offset : offset + rng.randint(1, 30)]
        end = batch[-1].offset + 1
        wall = max(wall, min(arrivals[end - 1], wall + 30)) + rng.uniform(0, 3)
        applied = pipeline.apply(batch, wall)
        stages: list[list[StateWrite]] = [pipeline.note_writes(applied)]
        closings = pipeline.close(applied.touched)
        stages.append(pipeline.pane_writes(applied.touched, closings))
        stages.append(pipeline.clock_writes(applied.touched))
        stages.append(pipeline.retire(closings))
        crash = crash_points and end > crash_points[0]
        stop = rng.randint(0, 4) if crash else 5
        for step, writes in enumerate(stages):
            if step == stop:
                _persist(store, writes[: rng.randint(0, len(writes))])
                break
            _persist(store, writes)
            if step == 0:  # then city.clock.v1, dead letters and lates
                clock_topic += [v for _, v in note_records(FARM_TOPIC, applied.clock_notes)]
                for at, kind in _verdicts(applied).items():
                    verdicts.setdefault(at, set()).add(kind)
            if step == 1:
                for row in rows_of(closings):
                    kpi_rows[row.identity()] = row
        if crash:
            crash_points.pop(0)
            wall += rng.uniform(0, 900)  # the restarted worker's clock is later
            pipeline = TopicPipeline(FARM_TOPIC, GRACE, SKEW, PARTITIONS)
            pipeline.load(0, store.items())
            offset = rng.randint(min(committed, offset), offset)
            continue
        committed = offset = end

    assert all(len(kinds) == 1 for kinds in verdicts.values()), verdicts
    recomputer = run_replay(records, clock_topic, rng.randint(1, 200))
    result = recomputer.finish()
    counts = replay_counts(recomputer)
    assert counts - Counter({"windowed": counts["windowed"]}) == Counter(
        kind for kinds in verdicts.values() for kind in kinds
    )
    assert {i: kpi_rows[i] for i in result.rows} == result.rows
