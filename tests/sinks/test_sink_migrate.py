"""`ioc migrate` against a real TimescaleDB: contract schema, idempotence, refusals, locking."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from common.errors import UserError
from deploy.devstack.urls import with_database, with_user
from ioc.cli import main as ioc_main
from sinks.migrate import MIGRATIONS_DIR, latest_version, migrate, status

pytestmark = pytest.mark.integration

CONTRACT = {
    "kpi": "text",
    "entity_kind": "text",
    "entity_id": "text",
    "district": "text",
    "window_kind": "text",
    "window_start": "timestamp with time zone",
    "window_end": "timestamp with time zone",
    "value": "double precision",
    "count": "bigint",
    "source_topic": "text",
    "source_partition": "integer",
    "first_offset": "bigint",
    "last_offset": "bigint",
    "event_count": "bigint",
    "written_at": "timestamp with time zone",
    "weight": "double precision",
    "sketch": "jsonb",
    "sketch_cumulative": "ARRAY",
}


@pytest.fixture(scope="module")
def migrated(new_database: Callable[..., str]) -> str:
    url = new_database("sink_migrate")
    result = migrate(url)
    assert [m.version for m in result.applied] == list(range(1, latest_version() + 1))
    return url


def test_kpi_table_matches_the_contract(migrated: str) -> None:
    with psycopg.connect(migrated) as conn:
        columns = dict(
            conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = 'kpi' ORDER BY ordinal_position"
            ).fetchall()
        )
        hyper = conn.execute(
            "SELECT column_name, time_interval FROM timescaledb_information.dimensions "
            "WHERE hypertable_name = 'kpi'"
        ).fetchall()
        indexes = {
            name: definition
            for name, definition in conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'kpi'"
            ).fetchall()
        }
        license_row = conn.execute("SHOW timescaledb.license").fetchone()
    assert columns == CONTRACT
    assert [(c, str(i)) for c, i in hyper] == [("window_start", "1 day, 0:00:00")]
    assert "UNIQUE" in indexes["kpi_identity"]
    assert "(kpi, entity_kind, entity_id, window_start, window_end)" in indexes["kpi_identity"]
    assert "(kpi, entity_kind, window_kind, district, window_start DESC)" in indexes["kpi_board"]
    assert sorted(indexes) == ["kpi_board", "kpi_identity"]
    assert license_row == ("apache",)


def test_second_run_applies_nothing(migrated: str) -> None:
    result = migrate(migrated)
    assert result.applied == []
    assert result.version == latest_version()
    assert all(applied for _, applied in status(migrated))


def test_cli_migrate_is_idempotent(migrated: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert ioc_main(["migrate", "--database-url", migrated]) == 0
    assert f"schema version {latest_version()}" in capsys.readouterr().out


def test_grafana_role_can_read_every_table(migrated: str) -> None:
    with psycopg.connect(with_user(migrated, "ioc_grafana")) as conn:
        for table in ("kpi", "kpi_latest", "kpi_audit", "raw_events"):
            conn.execute(f"SELECT count(*) FROM {table}")  # constant names
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM kpi")


def test_refuses_a_database_newer_than_the_code(new_database: Callable[..., str]) -> None:
    url = new_database("sink_newer")
    migrate(url)
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES (99, 'future', 'x')"
        )
    with pytest.raises(UserError, match=r"schema version 99.*newer smartcity-ioc"):
        migrate(url)
    assert ioc_main(["migrate", "--database-url", url]) == 2


def test_refuses_an_edited_migration(new_database: Callable[..., str]) -> None:
    url = new_database("sink_edited")
    migrate(url)
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 2")
    with pytest.raises(UserError, match="0002_kpi_audit was edited"):
        migrate(url)


def test_failing_migration_rolls_back_alone(
    new_database: Callable[..., str], tmp_path: Path
) -> None:
    for path in MIGRATIONS_DIR.glob("*.sql"):
        shutil.copy(path, tmp_path / path.name)
    broken = latest_version() + 1
    (tmp_path / f"{broken:04d}_broken.sql").write_text(
        "CREATE TABLE half_done (x int);\nSELECT 1 / 0;\n"
    )
    url = new_database("sink_broken")
    with pytest.raises(UserError, match=rf"{broken:04d}_broken failed.*rolled back"):
        migrate(url, tmp_path)
    with psycopg.connect(url) as conn:
        versions = [v for (v,) in conn.execute("SELECT version FROM schema_migrations")]
        half = conn.execute("SELECT to_regclass('half_done')").fetchone()
    assert sorted(versions) == list(range(1, broken))
    assert half == (None,)


def test_concurrent_migrators_apply_each_migration_once(new_database: Callable[..., str]) -> None:
    url = new_database("sink_race")
    results: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(len(migrate(url).applied))
        except BaseException as error:  # collected for the assertion below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(results) == [0, 0, latest_version()]


def test_unreachable_database_names_the_server() -> None:
    with pytest.raises(UserError, match=r"127\.0\.0\.1:1/.*ioc dev up"):
        migrate("postgresql://ioc@127.0.0.1:1/ioc")


def test_the_weight_migration_upgrades_a_database_with_rows(
    new_database: Callable[..., str], tmp_path: Path
) -> None:
    """A database at version 4 with rows keeps them; they get no weight and the boards'
    merge falls back to their count."""
    url = new_database("sink_upgrade")
    old = tmp_path / "migrations"
    old.mkdir()
    for path in sorted(MIGRATIONS_DIR.glob("000[1-4]_*.sql")):
        (old / path.name).write_text(path.read_text())
    migrate(url, old)
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO kpi (kpi, entity_kind, entity_id, district, window_kind, window_start,"
            " window_end, value, count, source_topic, source_partition, first_offset,"
            " last_offset, event_count) VALUES ('farm.x', 'district', 'vi-thanh', 'vi-thanh',"
            " '1m', '2026-03-10T06:00Z', '2026-03-10T06:01Z', 0.5, 4, 't', 0, 0, 3, 4)"
        )
    assert migrate(url).version == latest_version()
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT value, count, weight FROM kpi_latest").fetchone()
        assert row == (0.5, 4, None)
        merged = conn.execute(
            "SELECT sum(value * coalesce(weight, count)) / sum(coalesce(weight, count)) FROM kpi"
        ).fetchone()
    assert merged == (0.5,)


def test_the_board_index_migration_upgrades_a_database_with_rows(
    new_database: Callable[..., str], tmp_path: Path
) -> None:
    """A database at version 7 with rows in two chunks keeps them; its two board indexes
    become one, on every chunk, and the upsert identity stays unique."""
    url = new_database("board_index")
    old = tmp_path / "migrations"
    old.mkdir()
    for path in sorted(MIGRATIONS_DIR.glob("000[1-7]_*.sql")):
        (old / path.name).write_text(path.read_text())
    assert migrate(url, old).version == 7
    insert = (
        "INSERT INTO kpi (kpi, entity_kind, entity_id, district, window_kind, window_start,"
        " window_end, value, count, source_topic, source_partition, first_offset,"
        " last_offset, event_count, weight) VALUES (%s, %s, %s, 'vi-thanh', '1m', %s,"
        " %s::timestamptz + interval '1 minute', 0.5, 4, 't', 0, 0, 3, 4, 4)"
    )
    rows = [
        ("farm.x", kind, entity, start, start)
        for kind, entity in (("district", "vi-thanh"), ("sensor", "vt-s01"))
        for start in ("2026-03-10T06:00Z", "2026-03-11T06:00Z")
    ]
    with psycopg.connect(url) as conn:
        conn.cursor().executemany(insert, rows)
    assert migrate(url).version == latest_version()
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM kpi").fetchone() == (4,)
        chunks = conn.execute(
            "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'kpi'"
        ).fetchone()
        per_chunk = conn.execute(
            "SELECT regexp_replace(indexname, '^_hyper_[0-9]+_[0-9]+_chunk_', ''), count(*) "
            "FROM pg_indexes WHERE schemaname = '_timescaledb_internal' "
            "AND tablename LIKE '_hyper_%' GROUP BY 1 ORDER BY 1"
        ).fetchall()
        conn.execute("SET enable_seqscan = off")
        plan = "\n".join(
            line
            for (line,) in conn.execute(
                "EXPLAIN SELECT value FROM kpi WHERE kpi = 'farm.x' AND "
                "entity_kind = 'district' AND window_kind = '1m' AND district = 'vi-thanh' "
                "AND window_start > '2026-03-11T00:00Z'"
            )
        )
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(insert, rows[0])
    assert chunks == (2,)
    assert per_chunk == [("kpi_board", 2), ("kpi_identity", 2)]
    assert "kpi_board" in plan


def _grafana_statement_timeout(url: str) -> str:
    """``SHOW statement_timeout`` in a new session of role ioc_grafana."""
    with psycopg.connect(with_user(url, "ioc_grafana")) as conn:
        row = conn.execute("SHOW statement_timeout").fetchone()
    assert row is not None
    return str(row[0])


def test_the_grafana_role_gets_a_statement_timeout(
    new_database: Callable[..., str], admin_database_url: str
) -> None:
    """Migrated by a role that may (a superuser), ioc_grafana's sessions stop after 10 s."""
    url = new_database("grafana_timeout")
    admin = with_database(admin_database_url, psycopg.conninfo.conninfo_to_dict(url)["dbname"])
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("ALTER ROLE ioc_grafana RESET statement_timeout")
    try:
        assert _grafana_statement_timeout(url) == "0"
        migrate(admin)
        assert _grafana_statement_timeout(url) == "10s"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("ALTER ROLE ioc_grafana SET statement_timeout = '10s'")
