"""Pure tests of event-time windows: golden values, lateness, idempotency, crash recovery."""

from __future__ import annotations

import datetime as dt
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import SensorKind, SensorReading
from schemas.places import District
from schemas.topics import FARM_TOPIC
from streams.window_close import tumbling_ends
from streams.windows import KpiRow, Outcome, PartitionWindows

T0 = dt.datetime(2026, 3, 10, 10, 0, tzinfo=dt.UTC)


def reading(
    second: float, value: float, *, sensor: str = "lm-sal-001", event_id: str | None = None
) -> SensorReading:
    return SensorReading(
        event_id=event_id or f"e-{sensor}-{second}",
        source="test",
        occurred_at=T0 + dt.timedelta(seconds=second),
        schema_version=1,
        district=District.LONG_MY,
        sensor_id=sensor,
        farm_id="farm-1",
        zone="z1",
        kind=SensorKind.SALINITY,
        value=value,
        battery_pct=80.0,
    )


def row(rows: list[KpiRow], kpi: str, kind: str, start_min: int, length_min: int) -> KpiRow:
    start = T0 + dt.timedelta(minutes=start_min)
    found = [
        r
        for r in rows
        if r.kpi == kpi
        and r.entity_kind == kind
        and r.window_start == start
        and r.window_end == start + dt.timedelta(minutes=length_min)
    ]
    assert len(found) == 1, found
    return found[0]


def run(events: list[SensorReading]) -> tuple[PartitionWindows, list[KpiRow]]:
    windows = PartitionWindows(FARM_TOPIC, 0, grace_seconds=30)
    rows: list[KpiRow] = []
    for offset, event in enumerate(events):
        windows.apply(offset, event)
        closing = windows.close()
        if closing:
            rows.extend(closing.rows)
            windows.retire(closing.retired)
    return windows, rows


def test_golden_values_for_every_window_kind() -> None:
    events = [reading(10, 2.0), reading(40, 4.5), reading(90, 3.0), reading(65 * 60, 1.0)]
    _, rows = run(events)
    m1 = row(rows, "farm.salinity_max_gl", "sensor", 0, 1)
    assert (m1.value, m1.count, m1.first_offset, m1.last_offset, m1.event_count) == (
        4.5,
        2,
        0,
        1,
        2,
    )
    assert row(rows, "farm.salinity_mean_gl", "sensor", 0, 1).value == 3.25
    assert row(rows, "farm.salinity_minutes_above_4", "sensor", 0, 1).value == 0.5
    assert row(rows, "farm.salinity_mean_gl", "district", 1, 1).value == 3.0
    hop = row(rows, "farm.salinity_mean_gl", "district", -14, 15)
    assert (hop.value, hop.count, hop.event_count) == (3.25, 2, 2)
    hop_both = row(rows, "farm.salinity_max_gl", "district", -13, 15)
    assert (hop_both.value, hop_both.count, hop_both.last_offset) == (4.5, 3, 2)
    hour = row(rows, "farm.salinity_mean_gl", "sensor", 0, 60)
    assert abs(hour.value - 9.5 / 3) < 1e-12 and hour.count == 3
    assert row(rows, "farm.salinity_minutes_above_4", "sensor", 0, 60).value == 20.0
    assert row(rows, "farm.completeness_ratio", "sensor", 0, 60).value == 3 / 60
    hops = {
        r.window_start
        for r in rows
        if r.kpi == "farm.salinity_max_gl"
        and r.entity_kind == "district"
        and r.window_kind == "15m"
    }
    assert len(hops) == 16  # windows ending 10:01 .. 10:16


def test_late_redelivered_and_duplicate_events_change_nothing() -> None:
    windows, _ = run([reading(10, 2.0), reading(40, 4.5), reading(65 * 60, 1.0)])
    assert windows.apply(1, reading(40, 4.5)) is Outcome.REDELIVERY
    assert windows.apply(3, reading(20, 9.0, event_id="new")) is Outcome.LATE
    assert windows.apply(4, reading(65 * 60 + 5, 1.0, event_id="x")) is Outcome.WINDOWED
    assert windows.apply(5, reading(65 * 60 + 5, 1.0, event_id="x")) is Outcome.DUPLICATE_ID
    assert windows.close() is None


def test_a_minute_ending_exactly_at_the_watermark_is_late_and_the_next_is_not() -> None:
    windows = PartitionWindows(FARM_TOPIC, 0, grace_seconds=30)
    windows.apply(0, reading(90, 1.0))  # watermark 90 s - 30 s grace: exactly 10:01
    assert windows.clock.watermark == T0.timestamp() + 60
    assert windows.apply(1, reading(59.999, 2.0)) is Outcome.LATE
    assert windows.apply(2, reading(60, 2.0)) is Outcome.WINDOWED


def test_a_copy_is_late_only_when_its_minute_ends_at_the_aligned_watermark() -> None:
    windows = PartitionWindows(FARM_TOPIC, 0, grace_seconds=30)
    windows.hear(1, T0.timestamp() + 60)  # a peer has read up to 10:01 only
    windows.apply(0, reading(150, 1.0))  # own watermark 10:02
    assert windows.clock.aligned == T0.timestamp() + 60
    assert windows.apply(1, reading(59.999, 2.0), copy=True) is Outcome.LATE
    assert windows.apply(2, reading(60, 2.0), copy=True) is Outcome.WINDOWED
    assert windows.apply(3, reading(61, 2.0, event_id="own")) is Outcome.LATE


def test_state_is_bounded_panes_retire_after_their_last_window() -> None:
    events = [reading(m * 60, 1.0) for m in range(180)]
    windows, _ = run(events)
    assert windows.pane_count <= 2 * 61


def test_silent_key_closes_when_another_key_moves_the_watermark() -> None:
    events = [reading(10, 5.0, sensor="lm-sal-001"), reading(200, 1.0, sensor="lm-sal-002")]
    _, rows = run(events)
    silent = row(rows, "farm.salinity_max_gl", "sensor", 0, 1)
    assert (silent.entity_id, silent.value) == ("lm-sal-001", 5.0)


def test_idle_partition_advances_by_wall_clock() -> None:
    windows = PartitionWindows(FARM_TOPIC, 0, grace_seconds=30)
    windows.apply(0, reading(10, 5.0))
    first = windows.close()
    assert first is None or not first.rows
    windows.advance_idle(T0.timestamp() + 3 * 3600)
    closing = windows.close()
    assert closing is not None
    assert {r.window_kind for r in closing.rows} == {"1m", "15m", "1h"}


def _province_events(rng: random.Random, n: int) -> list[SensorReading]:
    events = []
    second = 0.0
    for i in range(n):
        second += rng.uniform(0, 40)
        jitter = rng.uniform(-50, 0) if rng.random() < 0.2 else 0.0
        sensor = f"lm-sal-{rng.randint(1, 4):03d}"
        event_id = f"dup-{i - 1}" if rng.random() < 0.05 and i else f"dup-{i}"
        events.append(reading(second + jitter, rng.uniform(0, 8), sensor=sensor, event_id=event_id))
    return events


def _undisturbed(events: list[SensorReading]) -> set[tuple[object, ...]]:
    windows = PartitionWindows(FARM_TOPIC, 0, grace_seconds=30)
    out: set[tuple[object, ...]] = set()
    for offset, event in enumerate(events):
        windows.apply(offset, event)
        if offset % 7 == 0:
            _close_into(windows, out)
    windows.advance_idle(1e10)
    _close_into(windows, out)
    return out


def _close_into(windows: PartitionWindows, out: set[tuple[object, ...]]) -> None:
    closing = windows.close()
    if closing:
        out.update(_key(r) for r in closing.rows)
        windows.retire(closing.retired)


def _key(r: KpiRow) -> tuple[object, ...]:
    return (*r.identity(), r.value, r.count, r.first_offset, r.last_offset, r.event_count)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), crashes=st.lists(st.integers(1, 299), max_size=4))
def test_crash_and_redelivery_give_the_rows_of_an_undisturbed_run(
    seed: int, crashes: list[int]
) -> None:
    """Persist like the worker (close, panes but those retired, emit, clock, tombstones),
    crash anywhere, lose an unflushed suffix of the changelog, restart from an older
    committed offset. Some batches are long enough to retire panes they changed."""
    rng = random.Random(seed)
    events = _province_events(rng, 300)
    expected = _undisturbed(events)
    store: dict[bytes, bytes] = {}
    emitted: dict[tuple[object, ...], tuple[object, ...]] = {}
    committed = 0
    windows = PartitionWindows(FARM_TOPIC, 0, grace_seconds=30)
    offset = 0
    crash_points = sorted(set(crashes))
    while offset < len(events):
        size = rng.randint(1, 9) if rng.random() < 0.8 else rng.randint(10, 120)
        batch_end = min(len(events), offset + size)
        for o in range(offset, batch_end):
            windows.apply(o, events[o])
        closing = windows.close()
        log: list[tuple[bytes, bytes | None]] = windows.take_dirty(
            closing.retired if closing else ()
        )
        if closing:
            for r in closing.rows:
                emitted[r.identity()] = _key(r)
        log.extend(windows.clock_items())
        if closing:
            windows.retire(closing.retired)
            log.extend(windows.take_dead())
        if crash_points and batch_end > crash_points[0]:
            crash_points.pop(0)
            kept = rng.choice([0, len(log) - 1, len(log), rng.randint(0, len(log))])
            _persist(store, log[:kept])
            windows = PartitionWindows(FARM_TOPIC, 0, grace_seconds=30)
            windows.load(store.items())
            offset = rng.randint(min(committed, offset), offset)
            continue
        _persist(store, log)
        committed = offset = batch_end
    windows.advance_idle(1e10)
    closing = windows.close()
    if closing:
        for r in closing.rows:
            emitted[r.identity()] = _key(r)
    assert set(emitted.values()) == expected


def _persist(store: dict[bytes, bytes], log: list[tuple[bytes, bytes | None]]) -> None:
    for key, value in log:
        if value is None:
            store.pop(key, None)
        else:
            store[key] = value


@given(
    st.sets(st.integers(0, 300), min_size=1),
    st.integers(0, 400),
    st.integers(0, 400),
)
def test_tumbling_ends_are_the_minute_and_hour_ends_of_the_range(
    minutes: set[int], first: int, last: int
) -> None:
    starts = sorted(m * 60 for m in minutes)
    first_end, last_end = first * 60, last * 60
    expected = [
        end
        for end in range(first_end, last_end + 1, 60)
        if end - 60 in set(starts) or end % 3600 == 0
    ]
    assert tumbling_ends(starts, first_end, last_end) == expected
