"""Named regressions of hostile producer input, on the pure pipeline (issue: exact under
hostile input; watermarks that one bad clock cannot poison).

Each test sends what a real producer sends on a bad day and fails on the code before the
fix: reused event ids across minutes and entities, records in the wrong partition, an
entity under two districts, events dated in the future, values of any size.
"""

from __future__ import annotations

import datetime as dt

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.decode import DEADLETTER_RAW_BYTES, deadletter_record, read_deadletter
from schemas.decode import Rejection as DecodeRejection
from schemas.places import District
from schemas.topics import FARM_TOPIC
from streams.pipeline import SourceRecord, TopicPipeline
from streams.routing import REROUTED_HEADER, district_partition
from streams.windows import Outcome

T0 = dt.datetime(2026, 3, 10, 10, 0, tzinfo=dt.UTC)
PARTITIONS = 4
DISTRICT = District.LONG_MY.value
HOME = district_partition(DISTRICT, PARTITIONS)


def reading(
    second: float,
    *,
    event_id: str,
    sensor: str = "lm-sal-001",
    district: str = DISTRICT,
    value: float = 2.0,
) -> bytes:
    return orjson.dumps(
        {
            "event_id": event_id,
            "source": "test",
            "occurred_at": (T0 + dt.timedelta(seconds=second)).isoformat(),
            "schema_version": 1,
            "district": district,
            "sensor_id": sensor,
            "farm_id": "farm-1",
            "zone": "z1",
            "kind": "salinity",
            "value": value,
            "battery_pct": 80.0,
        }
    )


def records(
    values: list[bytes], partition: int = HOME, stamp_ms: int | None = None
) -> list[SourceRecord]:
    stamp = stamp_ms if stamp_ms is not None else int(T0.timestamp() * 1000) + 10**7
    return [
        SourceRecord(FARM_TOPIC, partition, offset, stamp, DISTRICT.encode(), value)
        for offset, value in enumerate(values)
    ]


def pipeline() -> TopicPipeline:
    p = TopicPipeline(FARM_TOPIC, 30.0, 300.0, PARTITIONS)
    for partition in range(PARTITIONS):
        p.partitions[partition] = p.new_windows(partition)
    return p


def test_a_reused_event_id_in_another_minute_is_counted_once() -> None:
    p = pipeline()
    applied = p.apply(records([reading(5, event_id="x"), reading(125, event_id="x")]))
    assert applied.outcomes == {"windowed": 1, "event_id": 1}


def test_a_reused_event_id_for_another_sensor_creates_no_pane_of_it() -> None:
    p = pipeline()
    p.apply(records([reading(5, event_id="x"), reading(6, event_id="x", sensor="lm-sal-002")]))
    entities = set(p.windows(HOME).panes)
    assert ("sensor", "lm-sal-002") not in entities
    assert ("sensor", "lm-sal-001") in entities


def test_event_ids_survive_a_restart_and_expire_after_the_horizon() -> None:
    p = pipeline()
    p.apply(records([reading(5, event_id="x")]))
    p.close([HOME])
    state = {w.key: w.value for w in p.clock_writes([HOME]) + p.pane_writes([HOME])}
    restarted = TopicPipeline(FARM_TOPIC, 30.0, 300.0, PARTITIONS)
    restarted.load(HOME, [(k, v) for k, v in state.items() if v is not None])
    again = [SourceRecord(FARM_TOPIC, HOME, 1, None, None, reading(65, event_id="x"))]
    assert restarted.apply(again).outcomes == {"event_id": 1}
    later = [
        SourceRecord(FARM_TOPIC, HOME, 2, None, None, reading(3 * 3600, event_id="y")),
        SourceRecord(FARM_TOPIC, HOME, 3, None, None, reading(3 * 3600 + 1, event_id="x")),
    ]
    restarted.apply(later[:1])
    restarted.close([HOME])
    assert restarted.apply(later[1:]).outcomes == {"windowed": 1}


@pytest.mark.parametrize("partition", [p for p in range(PARTITIONS) if p != HOME])
def test_a_record_outside_its_districts_partition_is_rerouted_there(partition: int) -> None:
    p = pipeline()
    value = reading(5, event_id="x")
    applied = p.apply(records([reading(4, event_id="w"), value], partition=partition))
    assert applied.outcomes == {"rerouted": 2} and not applied.invalid
    assert not p.windows(partition).panes
    copy = applied.reroutes[1]
    assert (copy.partition, copy.key, copy.value) == (HOME, DISTRICT.encode(), value)
    assert copy.timestamp_ms == records([value])[0].timestamp
    assert copy.headers == [(REROUTED_HEADER, f"{partition}:1".encode())]
    arrived = SourceRecord(FARM_TOPIC, HOME, 0, copy.timestamp_ms, copy.key, copy.value,
                           copy.headers)  # fmt: skip
    assert p.apply([arrived]).outcomes == {"windowed": 1}
    assert [pane.n for pane in p.windows(HOME).panes[("sensor", "lm-sal-001")].values()] == [1]


def test_a_rerouted_copy_found_outside_its_districts_partition_is_dead_lettered() -> None:
    """A copy is re-routed once: in a topic whose partition count differs from the
    worker's setting, it would otherwise travel forever."""
    other = (HOME + 1) % PARTITIONS
    p = pipeline()
    copy = SourceRecord(FARM_TOPIC, other, 0, None, None, reading(5, event_id="x"),
                        [(REROUTED_HEADER, b"2:7")])  # fmt: skip
    applied = p.apply([copy])
    assert applied.invalid == {"misrouted": 1} and not applied.reroutes
    letter = read_deadletter(applied.deadletters[0][1])
    assert letter.reason_kind == "misrouted"
    assert f"partition {HOME} of {PARTITIONS}" in letter.reason


def test_an_entity_named_under_another_district_is_dead_lettered() -> None:
    other = next(
        d.value for d in District if d.value != DISTRICT and district_partition(d.value, 4) == HOME
    )
    p = pipeline()
    applied = p.apply(records([reading(5, event_id="a"), reading(6, event_id="b", district=other)]))
    assert applied.outcomes == {"windowed": 1}
    assert applied.invalid == {"entity_district": 1}
    panes = p.windows(HOME).panes[("sensor", "lm-sal-001")]
    assert [pane.n for pane in panes.values()] == [1]


def test_one_event_in_the_future_does_not_make_the_present_late() -> None:
    now = T0.timestamp() + 60
    stamp = int(now * 1000)
    future = reading(60 + 290, event_id="future")
    present = [reading(60 + i, event_id=f"p{i}") for i in range(1, 30)]
    p = pipeline()
    applied = p.apply(records([future, *present], stamp_ms=stamp), now=now)
    assert applied.outcomes == {"windowed": 30}
    assert p.windows(HOME).clock.watermark <= now - 30
    assert p.windows(HOME).events_after(now) == 1


def test_a_forged_record_timestamp_does_not_admit_a_far_future_event() -> None:
    now = T0.timestamp() + 60
    forged = int(dt.datetime(2200, 1, 1, tzinfo=dt.UTC).timestamp() * 1000)
    far = reading((dt.datetime(2200, 1, 1, tzinfo=dt.UTC) - T0).total_seconds(), event_id="f")
    p = pipeline()
    applied = p.apply(records([far, reading(61, event_id="p")], stamp_ms=forged), now=now)
    assert applied.invalid == {"future": 1}
    assert applied.outcomes == {"windowed": 1}


@pytest.mark.parametrize("size", [0, 1, DEADLETTER_RAW_BYTES, DEADLETTER_RAW_BYTES + 1, 20 << 20])
def test_a_dead_letter_carries_a_bounded_prefix_with_size_and_digest(size: int) -> None:
    raw = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    value = deadletter_record(FARM_TOPIC, 0, 7, raw, DecodeRejection("oversized", "big"))
    assert len(value) < 2 * DEADLETTER_RAW_BYTES
    letter = read_deadletter(value)
    assert letter.size == size
    assert letter.truncated == (size > DEADLETTER_RAW_BYTES)
    assert letter.raw == raw[:DEADLETTER_RAW_BYTES]


def test_outcome_values_name_the_dead_letter_reasons() -> None:
    assert Outcome.MISROUTED.value == "misrouted"
    assert Outcome.ENTITY_DISTRICT.value == "entity_district"


@settings(max_examples=200, deadline=None)
@given(
    batches=st.lists(
        st.tuples(
            st.floats(0, 60),  # wall clock advance before the batch is read
            st.lists(
                st.tuples(
                    st.floats(0, 29.9),  # a good event: how far behind the wall clock
                    st.one_of(st.none(), st.floats(1, 3e9)),  # a bad clock: seconds ahead
                    st.booleans(),  # the bad event's record timestamp forged to match it
                ),
                min_size=1,
                max_size=20,
            ),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_no_event_within_grace_of_real_time_is_ever_late(
    batches: list[tuple[float, list[tuple[float, float | None, bool]]]],
) -> None:
    """Good events are at most the grace behind the wall clock of the worker that reads
    them; bad clocks are up to a century ahead, with honest or forged record times."""
    p = pipeline()
    now = T0.timestamp()
    offset = 0
    for advance, events in batches:
        now += advance
        records, good = [], []
        for behind, ahead, forged in events:
            at = now - behind if ahead is None else now + ahead
            stamp = at if ahead is not None and forged else now
            value = reading(at - T0.timestamp(), event_id=f"c{offset}")
            records.append(SourceRecord(FARM_TOPIC, HOME, offset, int(stamp * 1000), None, value))
            good.append(ahead is None)
            offset += 1
        for record, is_good in zip(records, good, strict=True):
            applied = p.apply([record], now=now)
            if is_good:
                assert applied.outcomes == {"windowed": 1}, (record, applied)
        p.close([HOME])
