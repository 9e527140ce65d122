"""Pure tests of replay: times, selection, comparison, report formats, progress line."""

from __future__ import annotations

import csv
import datetime as dt
import io
import math

import orjson
import pytest

from schemas.topics import FARM_TOPIC, NETWORK_TOPIC, PORTAL_TOPIC, RAW_TOPICS
from streams.replay import report as reporting
from streams.replay import report_files
from streams.replay.compare import Comparison, Difference, compare, same_value
from streams.replay.progress import Progress
from streams.replay.reading import Span
from streams.replay.recompute import TopicStats
from streams.replay.selection import (
    Selection,
    parse_entities,
    parse_kpis,
    parse_topics,
    parse_windows,
    topics_for_kpis,
)
from streams.replay.times import iso, parse_time
from streams.window_rows import WINDOW_KINDS, KpiRow, utc

NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
T0 = int(dt.datetime(2026, 3, 10, 6, 0, tzinfo=dt.UTC).timestamp())


def kpi(
    entity: str = "vt-sal-001",
    start: int = T0,
    length: int = 60,
    value: float = 2.5,
    count: int = 3,
    partition: int = 1,
    first: int = 10,
    last: int = 20,
    events: int = 3,
    name: str = "farm.salinity_max_gl",
) -> KpiRow:
    return KpiRow(
        name,
        "sensor",
        entity,
        "vi-thanh",
        WINDOW_KINDS[length],
        utc(start),
        utc(start + length),
        value,
        count,
        FARM_TOPIC,
        partition,
        first,
        last,
        events,
        None,
    )


# -- times ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-10T06:00:00Z", dt.datetime(2026, 3, 10, 6, tzinfo=dt.UTC)),
        ("2026-03-10T13:00:00+07:00", dt.datetime(2026, 3, 10, 6, tzinfo=dt.UTC)),
        ("2026-03-10T06:00", dt.datetime(2026, 3, 10, 6, tzinfo=dt.UTC)),
        ("now", NOW),
        ("now-2h", NOW - dt.timedelta(hours=2)),
        ("-90m", NOW - dt.timedelta(minutes=90)),
        ("NOW-1d", NOW - dt.timedelta(days=1)),
    ],
)
def test_parse_time_accepts_iso_now_and_durations_ago(text: str, expected: dt.datetime) -> None:
    assert parse_time(text, NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "now-", "-2x", "2026-13-01"])
def test_parse_time_rejects_other_text_with_examples(text: str) -> None:
    with pytest.raises(ValueError, match=r"now|duration"):
        parse_time(text, NOW)


def test_iso_formats_whole_seconds_in_utc() -> None:
    assert iso(T0) == "2026-03-10T06:00:00Z"


# -- selection --------------------------------------------------------------------------------
def test_topic_names_short_and_full() -> None:
    assert parse_topics(["farm,portal", "city.network.probe.v1"]) == (
        FARM_TOPIC,
        PORTAL_TOPIC,
        NETWORK_TOPIC,
    )
    with pytest.raises(ValueError, match=r"unknown raw topic 'city\.kpi\.v1'"):
        parse_topics(["city.kpi.v1"])


def test_kpis_entities_and_windows_are_checked() -> None:
    assert parse_kpis(["farm.salinity_max_gl,network.latency_p95_ms"]) == {
        "farm.salinity_max_gl",
        "network.latency_p95_ms",
    }
    with pytest.raises(ValueError, match="unknown KPI"):
        parse_kpis(["farm.nope"])
    assert parse_entities(["district:vi-thanh", "sensor:a:b"]) == {
        ("district", "vi-thanh"),
        ("sensor", "a:b"),
    }
    for bad in ("vi-thanh", "planet:earth", "site:"):
        with pytest.raises(ValueError, match="KIND:ID"):
            parse_entities([bad])
    assert parse_windows(["1m,1h"]) == {"1m", "1h"}
    with pytest.raises(ValueError, match="unknown window"):
        parse_windows(["5m"])


def test_kpis_imply_their_topics() -> None:
    assert topics_for_kpis(frozenset()) == RAW_TOPICS
    assert topics_for_kpis(frozenset({"farm.salinity_max_gl"})) == (FARM_TOPIC,)


def test_selection_keeps_windows_inside_the_range_matching_the_filters() -> None:
    sel = Selection(T0, T0 + 3600, topics=(FARM_TOPIC,))
    assert sel.keeps(kpi())
    assert not sel.keeps(kpi(start=T0 - 60))
    assert not sel.keeps(kpi(start=T0 + 3600 - 60, length=900))
    assert sel.keeps(kpi(length=3600))
    narrow = Selection(
        T0,
        T0 + 3600,
        topics=(FARM_TOPIC,),
        kpis=frozenset({"farm.salinity_max_gl"}),
        entities=frozenset({("sensor", "vt-sal-001")}),
        windows=frozenset({"1m"}),
    )
    assert narrow.keeps(kpi())
    assert not narrow.keeps(kpi(entity="other"))
    assert not narrow.keeps(kpi(name="farm.salinity_mean_gl"))
    assert not narrow.keeps(kpi(length=900))
    assert narrow.kpi_names() == ["farm.salinity_max_gl"]
    assert narrow.window_kinds() == ["1m"]
    with pytest.raises(ValueError):
        Selection(T0, T0)


# -- comparison -------------------------------------------------------------------------------
def _by_id(*rows: KpiRow) -> dict[tuple[str, str, str, dt.datetime, dt.datetime], KpiRow]:
    return {r.identity(): r for r in rows}


def test_compare_finds_changed_missing_and_extra_rows() -> None:
    same = kpi(entity="a")
    changed_replay, changed_db = kpi(entity="b", value=1.0), kpi(entity="b", value=1.5, count=4)
    only_replay, only_db = kpi(entity="c"), kpi(entity="d")
    result = compare(_by_id(same, changed_replay, only_replay), [same, changed_db, only_db])
    assert (result.compared, result.equal) == (4, 1)
    kinds = {(d.kind, d.row.entity_id, d.fields) for d in result.differences}
    assert kinds == {
        ("changed", "b", ("value", "count")),
        ("missing_in_db", "c", ()),
        ("extra_in_db", "d", ()),
    }
    assert result.counts == {"missing_in_db": 1, "extra_in_db": 1, "changed": 1}


def test_values_are_exact_unless_a_relative_tolerance_is_given() -> None:
    assert same_value(0.1 + 0.2, 0.1 + 0.2, 0.0)
    assert not same_value(0.1 + 0.2, 0.3, 0.0)
    assert same_value(0.1 + 0.2, 0.3, 1e-12)
    assert not same_value(100.0, 101.0, 0.001)
    result = compare(_by_id(kpi(value=100.0)), [kpi(value=100.05)], tolerance=0.001)
    assert result.equal == 1 and not result.differences


def test_event_count_differs_and_lineage_alone_does_not_fail() -> None:
    result = compare(_by_id(kpi(events=3)), [kpi(events=4)])
    assert [d.fields for d in result.differences] == [("event_count",)]
    result = compare(_by_id(kpi(first=10)), [kpi(first=9, partition=2)])
    assert result.equal == 1 and not result.differences
    assert result.lineage_only[0].fields == ("source_partition", "first_offset")


def test_open_windows_are_not_compared() -> None:
    open_row = kpi(entity="open")
    late_db = kpi(entity="late", start=T0 + 600)
    result = compare(
        _by_id(kpi()),
        [kpi(), kpi(entity="open", value=9.0), late_db],
        comparable=lambda r: r.window_end <= utc(T0 + 300),
        open_replay=[open_row.identity()],
    )
    assert (result.compared, result.equal, result.differences) == (1, 1, [])
    assert (result.skipped_open_replay, result.skipped_open_db) == (1, 2)


# -- report -----------------------------------------------------------------------------------
def _report(comparison: Comparison) -> reporting.Report:
    stats = TopicStats(FARM_TOPIC, read=10)
    stats.outcomes.update({"windowed": 6, "late": 1, "event_id": 1})
    stats.invalid.update({"malformed": 2})
    stats.in_range.update({"windowed": 5, "late": 1, "invalid": 2})
    return reporting.Report(
        selection=Selection(T0, T0 + 3600, topics=(FARM_TOPIC,)),
        bootstrap="127.0.0.1:19092",
        database="ioc@127.0.0.1:15432/ioc",
        grace_seconds=30,
        future_skew_seconds=300,
        mode="exact",
        include_open=False,
        tolerance=0.0,
        spans=[Span(FARM_TOPIC, 0, 0, 0, 10, "beginning")],
        stats={FARM_TOPIC: stats},
        comparison=comparison,
        rows_replayed=2,
        rows_stored=2,
        events_read=10,
        read_seconds=0.5,
        total_seconds=1.0,
        started_at="2026-03-10T12:00:00Z",
    )


def test_reports_carry_counts_differences_and_lineage() -> None:
    diff = Difference("changed", kpi(value=1.0), kpi(value=2.0, first=11), ("value",))
    report = _report(Comparison(compared=2, equal=1, differences=[diff]))
    assert report.differs
    data = orjson.loads(report_files.to_json(report))
    assert data["range"] == {"from": "2026-03-10T06:00:00Z", "to": "2026-03-10T07:00:00Z"}
    assert data["topics"][FARM_TOPIC]["all_read"] == {
        "read": 10,
        "windowed": 6,
        "late": 1,
        "invalid": 2,
        "duplicate": 1,
        "rerouted": 0,
        "outside": 0,
    }
    assert data["topics"][FARM_TOPIC]["in_range"]["events"] == 8
    assert data["comparison"]["rows_compared"] == 2
    (only,) = data["differences"]
    assert only["difference"] == "changed"
    assert only["db"]["value"] == 2.0 and only["replay"]["value"] == 1.0
    assert only["db"]["first_offset"] == 11 and only["replay"]["source_partition"] == 1
    rows = list(csv.DictReader(io.StringIO(report_files.to_csv(report))))
    assert len(rows) == 1
    assert rows[0]["difference"] == "changed" and rows[0]["db_value"] == "2.0"
    assert rows[0]["window_start"] == "2026-03-10T06:00:00Z"
    markdown = report_files.to_markdown(report)
    assert "1 of 2 rows differ" in markdown
    assert "city.farm.sensor.v1[1] offsets 10..20 (3 events)" in markdown
    text = reporting.summary(report)
    assert "changed value db=2.0 replay=1.0" in text


def test_a_report_without_differences_says_all_equal() -> None:
    report = _report(Comparison(compared=2, equal=2))
    assert not report.differs
    assert "all 2 compared rows equal" in reporting.summary(report)
    assert report_files.to_csv(report).count("\n") == 1


# -- progress ---------------------------------------------------------------------------------
def test_progress_shows_records_and_rate_only_when_enabled() -> None:
    out = io.StringIO()
    progress = Progress(1000, enabled=True, stream=out)
    progress.advance(250)
    progress.advance(750)
    progress.close()
    assert progress.done == 1000
    assert "1000/1000" in out.getvalue()
    assert "events/s" in out.getvalue()
    quiet = io.StringIO()
    silent = Progress(10, enabled=False, stream=quiet)
    silent.advance(5)
    silent.close()
    assert quiet.getvalue() == ""


def test_watermark_of_a_partition_without_events_compares_everything() -> None:
    from streams.replay.recompute import Result

    result = Result({}, {}, {(FARM_TOPIC, 0): -math.inf, (FARM_TOPIC, 1): 120.0}, {}, [])
    assert result.watermark_of(FARM_TOPIC, 0) == math.inf
    assert result.watermark_of(FARM_TOPIC, 1) == 120.0
    assert result.watermark_of(FARM_TOPIC, 7) == math.inf
