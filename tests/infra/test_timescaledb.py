"""The local TimescaleDB: extension, hypertables, time_bucket, the read-only Grafana role."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg import errors

from deploy.devstack.urls import with_user

pytestmark = pytest.mark.integration


def test_app_database_has_timescaledb(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
        ).fetchone()
        assert row is not None and row[0].startswith("2.")
        assert conn.execute("SELECT current_user").fetchone() == ("ioc",)


def test_create_extension_hypertable_and_time_bucket(
    new_database: Callable[..., str], admin_database_url: str
) -> None:
    url = new_database("infra_ts")
    start = datetime(2025, 1, 1, tzinfo=UTC)
    rows = [(start + timedelta(seconds=20 * i), float(i)) for i in range(9)]  # 3 minutes
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE reading (at timestamptz NOT NULL, value float8 NOT NULL)")
        conn.execute("SELECT create_hypertable('reading', by_range('at', INTERVAL '1 day'))")
        with conn.cursor().copy("COPY reading (at, value) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        got = conn.execute(
            "SELECT time_bucket('1 minute', at) AS minute, count(*), sum(value) "
            "FROM reading GROUP BY minute ORDER BY minute"
        ).fetchall()
        chunks = conn.execute("SELECT count(*) FROM show_chunks('reading')").fetchone()
    assert got == [
        (start, 3, 3.0),
        (start + timedelta(minutes=1), 3, 12.0),
        (start + timedelta(minutes=2), 3, 21.0),
    ]
    assert chunks == (1,)


def test_grafana_role_reads_but_cannot_write(new_database: Callable[..., str]) -> None:
    url = new_database("infra_ro")
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE kpi_probe (x int)")
        conn.execute("INSERT INTO kpi_probe VALUES (1)")
    grafana = with_user(url, "ioc_grafana")
    with psycopg.connect(grafana) as conn:
        assert conn.execute("SELECT x FROM kpi_probe").fetchall() == [(1,)]
    with psycopg.connect(grafana) as conn, pytest.raises(errors.InsufficientPrivilege):
        conn.execute("INSERT INTO kpi_probe VALUES (2)")
    with psycopg.connect(grafana) as conn, pytest.raises(errors.InsufficientPrivilege):
        conn.execute("CREATE TABLE grafana_was_here (x int)")


def test_app_database_grants_grafana_read_only(database_url: str) -> None:
    grafana = with_user(database_url, "ioc_grafana")
    with psycopg.connect(grafana) as conn, pytest.raises(errors.InsufficientPrivilege):
        conn.execute("CREATE TABLE grafana_was_here (x int)")
    with psycopg.connect(database_url) as conn:
        acl = conn.execute(
            "SELECT defaclacl::text FROM pg_default_acl d JOIN pg_roles r "
            "ON r.oid = d.defaclrole WHERE r.rolname = 'ioc' AND d.defaclobjtype = 'r'"
        ).fetchone()
    assert acl is not None and "ioc_grafana=r/ioc" in acl[0]
