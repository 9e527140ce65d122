"""``ioc replay`` against the real worker and sink: simulated events with faults go through a
private broker, ``ioc worker`` and ``ioc sink`` into a fresh database; replay must find exactly
what differs (nothing, then the rows the test tampered with)."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest

from ioc.cli import main
from schemas.topics import RAW_TOPICS
from streams.progress import is_marker
from streams.replay.times import iso
from tests.replay.support import produce_sim, run_sink, sim_messages, sim_start, wait_worker_done
from tests.streams.support import PrivateBroker, WorkerProcess, free_port
from tests.support.kafka import read_topic

pytestmark = [pytest.mark.integration]

MINUTES = 40
IDLE = 4


@dataclass(frozen=True)
class World:
    bootstrap: str
    database_url: str
    start_ms: int
    end_ms: int
    messages: int
    tmp: Path

    def args(self, *extra: str) -> list[str]:
        return [
            "replay",
            "--from",
            iso(self.start_ms / 1000),
            "--to",
            iso(self.end_ms / 1000),
            "--bootstrap",
            self.bootstrap,
            "--database-url",
            self.database_url,
            "--no-progress",
            *extra,
        ]


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, new_database: Callable[..., str]
) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("replay")
    start = sim_start()
    messages = sim_messages(start, MINUTES)
    with PrivateBroker(tmp) as broker:
        asyncio.run(produce_sim(broker.bootstrap, messages))
        app_id = f"replay-{uuid.uuid4().hex[:8]}"
        worker = WorkerProcess(
            broker.bootstrap, app_id, tmp / "worker.log", IOC_IDLE_TIMEOUT_SECONDS=IDLE
        ).start()
        try:
            wait_worker_done(broker.bootstrap, app_id, IDLE + 2, timeout=120)
        finally:
            worker.stop()
        url = new_database("replay")
        run_sink(broker.bootstrap, url, tmp / "sink.log")
        yield World(broker.bootstrap, url, start, start + MINUTES * 60_000, len(messages), tmp)


def replay_json(world: World, *extra: str) -> tuple[int, dict[str, Any]]:
    path = world.tmp / f"report-{uuid.uuid4().hex[:6]}.json"
    code = main(world.args("--report", str(path), *extra))
    return code, orjson.loads(path.read_bytes())


def test_replay_of_the_worker_run_finds_no_difference(world: World) -> None:
    code, report = replay_json(world)
    comparison = report["comparison"]
    assert code == 0, report["differences"][:5]
    assert comparison["rows_compared"] > 1000
    assert comparison["rows_equal"] == comparison["rows_compared"]
    assert comparison["lineage_only_differences"] == 0
    read = {t: s["all_read"] for t, s in report["topics"].items()}
    assert sum(s["read"] for s in read.values()) == world.messages
    # the simulator's faults reached the worker and replay counted them the same way
    assert sum(s["late"] for s in read.values()) > 0
    assert sum(s["invalid"] for s in read.values()) > 0
    assert sum(s["duplicate"] for s in read.values()) > 0
    code, report = replay_json(world, "--margin", "10m")
    assert code == 0, report["differences"][:5]
    # these events are a day old: the worker leaves their last windows open (only a live
    # partition closes windows by wall clock), so --include-open reports exactly those
    code, report = replay_json(world, "--include-open")
    assert code == 1
    assert {d["difference"] for d in report["differences"]} == {"missing_in_db"}


def _one_row(url: str) -> tuple[Any, ...]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT kpi, entity_kind, entity_id, window_start, value FROM kpi "
            "WHERE window_kind = '1m' ORDER BY window_start, kpi, entity_id LIMIT 1 OFFSET 100"
        ).fetchone()
    assert row is not None
    return tuple(row)


def test_a_changed_value_is_reported_with_both_values_and_lineage(world: World) -> None:
    kpi, kind, entity, start, value = _one_row(world.database_url)
    update = (
        "UPDATE kpi SET value = %s WHERE kpi = %s AND entity_kind = %s AND entity_id = %s "
        "AND window_start = %s AND window_kind = '1m'"
    )
    with psycopg.connect(world.database_url, autocommit=True) as conn:
        conn.execute(update, (value + 1.0, kpi, kind, entity, start))
    try:
        csv_path = world.tmp / "diff.csv"
        md_path = world.tmp / "diff.md"
        code, report = replay_json(world, "--report", str(csv_path), "--report", str(md_path))
    finally:
        with psycopg.connect(world.database_url, autocommit=True) as conn:
            conn.execute(update, (value, kpi, kind, entity, start))
    assert code == 1
    (diff,) = report["differences"]
    assert diff["difference"] == "changed" and diff["fields"] == ["value"]
    assert (diff["kpi"], diff["entity_kind"], diff["entity_id"]) == (kpi, kind, entity)
    assert diff["db"]["value"] == value + 1.0 and diff["replay"]["value"] == value
    assert diff["replay"]["source_topic"] in RAW_TOPICS
    assert diff["replay"]["first_offset"] <= diff["replay"]["last_offset"]
    assert report["comparison"]["differences"] == {
        "missing_in_db": 0,
        "extra_in_db": 0,
        "changed": 1,
    }
    (line,) = list(csv.DictReader(csv_path.open()))
    assert line["kpi"] == kpi and float(line["db_value"]) == value + 1.0
    assert "1 of" in md_path.read_text() and kpi in md_path.read_text()


def test_missing_and_extra_rows_are_reported(world: World) -> None:
    kpi, kind, entity, start, _ = _one_row(world.database_url)
    with psycopg.connect(world.database_url, autocommit=True) as conn:
        saved = conn.execute(
            "DELETE FROM kpi WHERE kpi = %s AND entity_kind = %s AND entity_id = %s "
            "AND window_start = %s AND window_kind = '1m' RETURNING *",
            (kpi, kind, entity, start),
        ).fetchall()
        conn.execute(
            "INSERT INTO kpi (kpi, entity_kind, entity_id, district, window_kind, window_start,"
            " window_end, value, count, source_topic, source_partition, first_offset,"
            " last_offset, event_count) VALUES (%s, %s, 'ghost', 'vi-thanh', '1m', %s,"
            " %s + interval '1 minute', 1, 1, 'city.farm.sensor.v1', 0, 0, 0, 1)",
            (kpi, kind, start, start),
        )
    try:
        code, report = replay_json(world, "--kpi", kpi, "--window", "1m")
    finally:
        with psycopg.connect(world.database_url, autocommit=True) as conn:
            conn.execute("DELETE FROM kpi WHERE entity_id = 'ghost'")
            with conn.cursor() as cur:
                described = conn.execute("SELECT * FROM kpi LIMIT 0").description or []
                columns = [d.name for d in described]
                placeholders = ", ".join(["%s"] * len(columns))
                cur.executemany(
                    f"INSERT INTO kpi ({', '.join(columns)}) VALUES ({placeholders})", saved
                )
    assert code == 1
    kinds = sorted((d["difference"], d["entity_id"]) for d in report["differences"])
    assert kinds == [("extra_in_db", "ghost"), ("missing_in_db", entity)]
    assert report["filters"]["kpis"] == [kpi]
    assert len(report["topics"]) == 1  # only the topic that feeds the KPI was read


def test_a_range_without_events_compares_nothing_and_succeeds(world: World) -> None:
    path = world.tmp / "empty.json"
    code = main(
        [
            "replay",
            "--from",
            "2020-01-01T00:00:00Z",
            "--to",
            "2020-01-01T01:00:00Z",
            "--bootstrap",
            world.bootstrap,
            "--database-url",
            world.database_url,
            "--report",
            str(path),
        ]
    )
    report = orjson.loads(path.read_bytes())
    assert code == 0
    assert report["comparison"]["rows_compared"] == 0
    assert report["comparison"]["rows_replayed"] == 0
    assert all(s["in_range"]["events"] == 0 for s in report["topics"].values())


def test_a_start_time_past_the_end_falls_back_to_the_beginning(world: World) -> None:
    """Kafka has no offset for a time past the end: replay starts at the beginning."""
    tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    path = world.tmp / "future.json"
    args = world.args("--margin", "10m", "--report", str(path))
    args[2], args[4] = iso(tomorrow.timestamp()), iso(tomorrow.timestamp() + 3600)
    assert main(args) == 0
    report = orjson.loads(path.read_bytes())
    starts = {(p["start_from"], p["start"]) for p in report["reading"]["partitions"]}
    assert starts == {("fallback", 0)}
    assert report["reading"]["events_read"] == world.messages
    assert any("no usable answer" in w for w in report["warnings"])


def test_filters_select_exactly_the_matching_stored_rows(world: World) -> None:
    with psycopg.connect(world.database_url) as conn:
        (district,) = conn.execute(
            "SELECT entity_id FROM kpi WHERE kpi = 'farm.salinity_max_gl' "
            "AND entity_kind = 'district' LIMIT 1"
        ).fetchone() or ("?",)
        (stored,) = conn.execute(
            "SELECT count(*) FROM kpi WHERE kpi = 'farm.salinity_max_gl' AND entity_kind = "
            "'district' AND entity_id = %s AND window_kind IN ('1m', '15m') "
            "AND window_start >= %s AND window_end <= %s",
            (
                district,
                iso(world.start_ms / 1000),
                iso(world.end_ms / 1000),
            ),
        ).fetchone() or (0,)
    code, report = replay_json(
        world,
        "--kpi",
        "farm.salinity_max_gl",
        "--entity",
        f"district:{district}",
        "--window",
        "1m,15m",
    )
    assert code == 0
    assert list(report["topics"]) == ["city.farm.sensor.v1"]
    assert stored > 0
    assert report["comparison"]["rows_compared"] == stored


def test_into_table_and_republish_keep_the_originals(world: World) -> None:
    sandbox = f"sandbox.{uuid.uuid4().hex[:6]}"
    code, report = replay_json(
        world, "--into-table", "--replay-id", "audit-1", "--republish", sandbox
    )
    assert code == 0
    with psycopg.connect(world.database_url) as conn:
        (audited,) = conn.execute(
            "SELECT count(*) FROM kpi_audit WHERE replay_id = 'audit-1'"
        ).fetchone() or (0,)
    assert audited == report["comparison"]["rows_replayed"] == report["into_table"]["rows"]
    in_range = sum(s["in_range"]["events"] for s in report["topics"].values())
    assert sum(report["republished"].values()) == in_range > 0
    for topic in RAW_TOPICS:
        copied = asyncio.run(read_topic(world.bootstrap, f"{sandbox}.{topic}"))
        assert len(copied) == report["republished"][f"{sandbox}.{topic}"]
    originals = sum(
        not is_marker(r.headers)
        for t in RAW_TOPICS
        for r in asyncio.run(read_topic(world.bootstrap, t))
    )
    assert originals == world.messages


def test_unreachable_servers_give_a_clear_error_and_exit_2(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    args = world.args()
    broker_down = [*args, "--bootstrap", f"127.0.0.1:{port}"]
    assert main(broker_down) == 2
    err = capsys.readouterr().err
    assert f"cannot reach Kafka at 127.0.0.1:{port}" in err and "ioc dev up" in err
    database_down = [*args, "--database-url", f"postgresql://ioc@127.0.0.1:{port}/ioc"]
    assert main(database_down) == 2
    err = capsys.readouterr().err
    assert f"cannot reach TimescaleDB at ioc@127.0.0.1:{port}/ioc" in err
    assert "ioc dev up" in err
