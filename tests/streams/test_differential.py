"""The pipeline against the independent oracle (tests/oracle.py) on hostile record streams.

Hypothesis writes what producers send on a bad day: wrong partitions, reused event ids
across minutes and entities, an entity under two districts, out-of-order, late and future
events, forged record timestamps, exact minute and hour boundaries, offsets other than UTC,
and values that are empty, huge, not UTF-8 or NaN. The pipeline's rows and outcome counts
must equal the oracle's, whatever the batching.

Records in another partition than their district's are re-routed: the test appends the
copies the pipeline asks for to their partitions' logs, as the broker does, and the oracle
judges those logs. Rows are compared by identity and source partition. Without claims (as
replay of a log no worker claimed for), an entity named under districts of two partitions
is windowed in both (each partition knows only its own entities; ``ioc replay`` reports it
as an error). With claims (the worker), the test keeps the claims log as the broker does:
the claims a batch asks for are appended before it goes on, and the oracle takes the
entities' first claims in that log as the province's registry.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.decode import read_deadletter
from schemas.topics import FARM_TOPIC
from streams.pipeline import Applied, Reroute, SourceRecord, TopicPipeline
from streams.routing import REROUTED_HEADER, Claim, EntityClaims
from streams.window_rows import KpiRow
from streams.windows import rows_of
from tests.oracle import from_log, home_partition, judge_province, same_value

PARTITIONS = 3
GRACE = 30.0
SKEW = 300.0
T0 = dt.datetime(2026, 3, 10, 9, 58, tzinfo=dt.UTC).timestamp()
SENSORS = [("lm-sal-1", "long-my"), ("vt-sal-1", "vi-thanh"), ("ch-sal-1", "chau-thanh")]
DISTRICTS = [d for _, d in SENSORS] + ["nga-bay", "phung-hiep"]
ANY_DISTRICT = st.sampled_from(DISTRICTS)
ZONES = [dt.UTC, dt.timezone(dt.timedelta(hours=7)), dt.timezone(dt.timedelta(hours=-5))]


@st.composite
def hostile_value(draw: st.DrawFn, clock: float) -> tuple[bytes | None, float]:
    """One record value and the event time it states (the clock moves on by itself)."""
    sensor, district = draw(st.sampled_from(SENSORS))
    if draw(st.integers(0, 9)) == 0:
        district = draw(st.sampled_from(DISTRICTS))  # the same sensor under another district
    shape = draw(st.sampled_from(["now", "now", "now", "back", "late", "future", "edge"]))
    t = {
        "now": clock + draw(st.floats(-5, 5)),
        "back": clock - draw(st.floats(0, 120)),
        "late": clock - draw(st.floats(120, 4000)),
        "future": clock + draw(st.floats(60, 400)),
        "edge": (clock // 60) * 60 + draw(st.sampled_from([0.0, 60.0, -1e-6, 3600 - clock % 3600])),
    }[shape]
    event_id = draw(st.sampled_from(["dup-a", "dup-b", "dup-c"])) if draw(st.booleans()) else None
    value = draw(st.sampled_from([1.5, 4.2, 0.0, 7.9, float("nan")]))
    event = {
        "event_id": event_id or f"e-{draw(st.integers(0, 10**9))}",
        "source": "differential",
        "occurred_at": dt.datetime.fromtimestamp(t, draw(st.sampled_from(ZONES))).isoformat(),
        "schema_version": 1,
        "district": district,
        "sensor_id": sensor,
        "farm_id": "farm-1",
        "zone": "z1",
        "kind": "salinity",
        "value": value,
        "battery_pct": 80.0,
    }
    broken = draw(st.integers(0, 19))
    if broken == 0:
        return draw(st.sampled_from([None, b"", b"\xff\xfe{", b"[1,2]", b"x" * 70_000])), t
    raw = orjson.dumps(event, option=orjson.OPT_SERIALIZE_NUMPY)
    if value != value:  # orjson writes NaN as null: send the bare token producers send
        raw = raw.replace(b'"value":null', b'"value":NaN')
    return raw, t


@st.composite
def hostile_batches(
    draw: st.DrawFn, partitions: int = PARTITIONS
) -> list[tuple[float, list[SourceRecord]]]:
    """Batches of records over ``partitions``, each with the wall clock of the worker that
    reads it."""
    clock = T0
    offsets = [0] * partitions
    batches: list[tuple[float, list[SourceRecord]]] = []
    for _ in range(draw(st.integers(1, 12))):
        records: list[SourceRecord] = []
        for _ in range(draw(st.integers(1, 25))):
            clock += draw(st.floats(0, 40))
            value, _ = draw(hostile_value(clock))
            partition = draw(st.integers(0, partitions - 1))
            stamp = int(clock * 1000)
            if draw(st.integers(0, 14)) == 0:
                stamp = int(dt.datetime(2200, 1, 1, tzinfo=dt.UTC).timestamp() * 1000)
            records.append(
                SourceRecord(FARM_TOPIC, partition, offsets[partition], stamp, None, value)
            )
            offsets[partition] += 1
        batches.append((clock + draw(st.floats(0, 5)), records))
    return batches


Delivered = list[tuple[float, list[SourceRecord]]]


def _applied(
    pipeline: TopicPipeline, records: list[SourceRecord], now: float | None = None
) -> Applied:
    """Apply ``records`` as the worker does: while the batch stops at entities nobody
    claimed, append their claims to the pipeline's claims log, then go on."""
    applied = pipeline.apply(records, now)
    while applied.rest:
        assert applied.unclaimed, "a batch stopped without a claim to make"
        assert isinstance(pipeline.fixed_districts, EntityClaims)
        pipeline.fixed_districts.add(applied.unclaimed)
        applied = pipeline.apply(applied.rest, now, into=applied)
    return applied


def _logged(
    batches: Delivered, pipeline: TopicPipeline, aligned: bool = False
) -> tuple[list[KpiRow], Delivered, Counter[str]]:
    """Feed ``batches`` to ``pipeline`` as a broker would deliver them: each record appended
    to its partition's log at the next offset, and the copies a batch re-routes appended to
    their districts' partitions before the next batch's records, then (``aligned``, as the
    worker does when a partition has nothing left to read) the progress markers due.
    Returns the rows, the batches as delivered (the logs the oracle judges) and the
    outcome counts."""
    rows: list[KpiRow] = []
    outcomes: Counter[str] = Counter()
    delivered: list[tuple[float, list[SourceRecord]]] = []
    ends = [0] * PARTITIONS
    copies: list[SourceRecord] = []
    waiting = list(batches)
    now = batches[-1][0]
    while waiting or copies:
        generated: list[SourceRecord] = []
        if waiting:
            now, generated = waiting.pop(0)
        records = []
        for r in [*copies, *generated]:
            records.append(r._replace(offset=ends[r.partition]))
            ends[r.partition] += 1
        delivered.append((now, records))
        applied = _applied(pipeline, records, now)
        by_origin = {f"{r.partition}:{r.offset}".encode(): r for r in records}
        for c in applied.reroutes:
            original = by_origin[dict(c.headers)[REROUTED_HEADER]]
            assert (c.value, c.timestamp_ms) == (original.value, original.timestamp)
            assert c.partition == home_partition(c.key.decode(), PARTITIONS) != original.partition
        copies = _as_records(applied.reroutes, now)
        if aligned:  # as the worker's idle tick: every partition read everything
            every = range(PARTITIONS)
            copies += _as_records(pipeline.progress_markers(every, caught_up=every), now)
        closings = pipeline.close(applied.touched)
        rows += rows_of(closings)
        pipeline.retire(closings)
        outcomes.update(applied.outcomes)
        outcomes.update(applied.invalid)
    return rows, delivered, outcomes


def _as_records(outgoing: list[Reroute], now: float) -> list[SourceRecord]:
    """Copies or markers as the records the broker appends (offsets set on delivery)."""
    return [
        SourceRecord(
            FARM_TOPIC,
            c.partition,
            -1,
            c.timestamp_ms or int(now * 1000),
            c.key,
            c.value,
            c.headers,
        )
        for c in outgoing
    ]


def _identity(row: KpiRow) -> tuple[str, str, str, int, int]:
    """The oracle's identity of ``row``: window bounds in epoch seconds."""
    start, end = int(row.window_start.timestamp()), int(row.window_end.timestamp())
    return (row.kpi, row.entity_kind, row.entity_id, start, end)


@settings(max_examples=150, deadline=None)
@given(
    batches=hostile_batches(),
    horizon=st.sampled_from([120.0, 3630.0]),
    fixed=st.none()
    | st.dictionaries(st.sampled_from([s for s, _ in SENSORS]), st.sampled_from(DISTRICTS)),
    claimed=st.booleans(),
    aligned=st.booleans(),
)
def test_pipeline_rows_and_counts_equal_the_oracles(
    batches: list[tuple[float, list[SourceRecord]]],
    horizon: float,
    fixed: dict[str, str] | None,
    claimed: bool,
    aligned: bool,
) -> None:
    districts = EntityClaims(fixed) if claimed else fixed
    pipeline = TopicPipeline(FARM_TOPIC, GRACE, SKEW, PARTITIONS, horizon, districts, claimed)
    for partition in range(PARTITIONS):
        pipeline.partitions[partition] = pipeline.new_windows(partition)
    rows, delivered, outcomes = _logged(batches, pipeline, aligned)
    for windows in pipeline.partitions.values():
        windows.advance_to_end(1e10)
    rows += rows_of(pipeline.close(range(PARTITIONS)))

    logs = [from_log(r, now) for now, records in delivered for r in records]
    expected, oracle_outcomes = judge_province(
        FARM_TOPIC, logs, partitions=PARTITIONS, grace=GRACE, skew=SKEW, horizon=horizon,
        fixed=districts,
    )  # fmt: skip

    assert outcomes == oracle_outcomes
    got = {(*_identity(r), r.source_partition): r for r in rows}
    assert len(got) == len(rows), "a window was emitted twice"
    if claimed:
        assert len({_identity(r) for r in rows}) == len(rows), "an entity in two partitions"
    assert got.keys() == expected.keys()
    for identity, row in got.items():
        want = expected[identity]
        assert same_value(row.value, want.value), (identity, row.value, want.value)
        assert (row.count, row.district) == (want.count, want.district)
        assert (row.first_offset, row.last_offset, row.event_count) == (
            want.first_offset, want.last_offset, want.event_count,
        )  # fmt: skip
    rerouted = oracle_outcomes["rerouted"]
    markers = sum(r.marker_of is not None for r in logs)
    assert markers == 0 or aligned
    assert sum(len(r) for _, r in delivered) == (
        sum(len(r) for _, r in batches) + rerouted + markers
    )


def test_the_provinces_registry_windows_an_entity_named_under_two_partitions_once() -> None:
    pipeline = TopicPipeline(
        FARM_TOPIC, GRACE, SKEW, PARTITIONS, fixed_districts={"lm-sal-1": "long-my"}
    )
    applied = pipeline.apply(_one_sensor_in_two_partitions(pipeline))
    assert applied.outcomes == {"windowed": 1}
    assert applied.invalid == {"entity_district": 1}
    (letter,) = [read_deadletter(v) for _, v in applied.deadletters]
    assert "'long-my'" in letter.reason and "IOC_ENTITY_REGISTRY" in letter.reason


def _one_sensor_in_two_partitions(pipeline: TopicPipeline) -> list[SourceRecord]:
    """Sensor lm-sal-1 under long-my, then under nga-bay: districts of two partitions."""
    event = {
        "source": "differential", "occurred_at": "2026-03-10T10:00:05+00:00",
        "schema_version": 1, "sensor_id": "lm-sal-1", "farm_id": "f", "zone": "z1",
        "kind": "salinity", "value": 1.0, "battery_pct": 80.0,
    }  # fmt: skip
    records = []
    for n, district in enumerate(["long-my", "nga-bay"]):
        partition = home_partition(district, PARTITIONS)
        pipeline.partitions[partition] = pipeline.new_windows(partition)
        value = orjson.dumps({**event, "event_id": f"x{n}", "district": district})
        records.append(SourceRecord(FARM_TOPIC, partition, 0, None, None, value))
    assert len({r.partition for r in records}) == 2
    return records


def test_an_entity_named_under_districts_of_two_partitions_is_windowed_once() -> None:
    claims = EntityClaims()
    pipeline = TopicPipeline(FARM_TOPIC, GRACE, SKEW, PARTITIONS, fixed_districts=claims,
                             claims_required=True)  # fmt: skip
    records = _one_sensor_in_two_partitions(pipeline)
    applied = pipeline.apply(records)
    assert applied.unclaimed == [Claim("sensor", "lm-sal-1", "long-my")]
    assert applied.rest == records and not applied.outcomes
    claims.add(applied.unclaimed)
    applied = pipeline.apply(applied.rest, into=applied)
    assert (applied.rest, applied.unclaimed) == ((), [])
    assert applied.outcomes == {"windowed": 1}
    assert applied.invalid == {"entity_district": 1}
    assert applied.consumed == 2


def test_the_first_claim_in_the_log_wins_whichever_partition_made_it() -> None:
    """Two workers meet one new sensor at once, each in its own partition: the claim the
    log holds first decides for both, and for every restart that reads the log again."""
    claims = EntityClaims()
    records = _one_sensor_in_two_partitions(TopicPipeline(FARM_TOPIC, GRACE, SKEW, PARTITIONS))
    workers = []
    for record in records:
        pipeline = TopicPipeline(FARM_TOPIC, GRACE, SKEW, PARTITIONS, fixed_districts=claims,
                                 claims_required=True)  # fmt: skip
        pipeline.partitions[record.partition] = pipeline.new_windows(record.partition)
        workers.append((pipeline, pipeline.apply([record])))
    log = [claim for _, applied in reversed(workers) for claim in applied.unclaimed]
    assert [c.district for c in log] == ["nga-bay", "long-my"]
    claims.add(log)
    results = [p.apply(a.rest, into=a) for p, a in workers]
    assert [a.invalid for a in results] == [{"entity_district": 1}, {}]
    assert [a.outcomes for a in results] == [{}, {"windowed": 1}]
    assert claims == {"lm-sal-1": "nga-bay"}
