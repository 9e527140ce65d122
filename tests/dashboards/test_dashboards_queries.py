"""Every panel query runs on the real servers: SQL on TimescaleDB, PromQL on Prometheus.

SQL targets are expanded exactly as Grafana would (macros and variables) and run as the
read-only role ``ioc_grafana`` against a fresh migrated database holding synthetic KPI rows
of every catalog KPI; each must return rows. PromQL targets must be accepted by the local
Prometheus. Each board is also rendered once as a PNG preview.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from dashboards.boards import BOARDS
from dashboards.build import board_json
from dashboards.macros import QueryContext, expand_sql
from dashboards.queries import PanelQuery, PromQLError, context, panel_queries, run_promql, run_sql
from dashboards.sql import district_variable_query
from dashboards.variables import WINDOW_KINDS
from schemas.places import DISTRICT_NAMES, District

pytestmark = pytest.mark.integration

ALL_DISTRICTS = [d.value for d in District]
QUERIES: list[PanelQuery] = [q for spec in BOARDS for q in panel_queries(board_json(spec.build()))]
SQL = [q for q in QUERIES if q.is_sql]
PROMQL = [q for q in QUERIES if not q.is_sql]


@pytest.fixture(scope="module")
def conn(kpi_database: str) -> Any:
    with psycopg.connect(kpi_database, autocommit=True) as connection:
        yield connection


def test_boards_have_both_kinds_of_query() -> None:
    assert len(SQL) >= 40 and len(PROMQL) >= 15
    assert {q.board_uid for q in PROMQL} >= {"ioc-overview", "ioc-pipeline"}


@pytest.mark.parametrize("window_kind", WINDOW_KINDS)
def test_every_sql_query_returns_rows(conn: Any, synthetic_now: datetime, window_kind: str) -> None:
    variables = {"district": ALL_DISTRICTS, "window_kind": [window_kind]}
    empty: list[str] = []
    for query in SQL:
        frame = run_sql(conn, query, context(query, synthetic_now, variables))
        if not frame.rows:
            empty.append(query.label)
    assert not empty, f"queries without rows ({window_kind}): {empty}"


def test_one_district_selected_narrows_the_grid(conn: Any, synthetic_now: datetime) -> None:
    variables = {"district": ["phung-hiep"], "window_kind": ["1m"]}
    grids = [q for q in SQL if q.board_uid == "ioc-overview" and q.format == "table"]
    assert grids
    frame = run_sql(conn, grids[0], context(grids[0], synthetic_now, variables))
    assert [row[0] for row in frame.rows] == [DISTRICT_NAMES[District.PHUNG_HIEP]]


def test_no_rows_outside_the_data(conn: Any, synthetic_now: datetime) -> None:
    """The time filter really filters: a day earlier there is nothing."""
    variables = {"district": ALL_DISTRICTS, "window_kind": ["1m"]}
    earlier = synthetic_now - timedelta(days=2)
    sizes = [run_sql(conn, q, context(q, earlier, variables)).size for q in SQL[:5]]
    assert sizes == [0] * 5


def test_district_variable_lists_vietnamese_names(conn: Any, synthetic_now: datetime) -> None:
    ctx = QueryContext(synthetic_now - timedelta(hours=3), synthetic_now)
    for spec in BOARDS:
        templating = board_json(spec.build())["templating"]["list"]
        queries = [v["query"] for v in templating if v["name"] == "district"]
        assert queries in ([], [district_variable_query()])
    rows = conn.execute(expand_sql(district_variable_query(), ctx).encode()).fetchall()
    assert rows == [(d.value, name) for d, name in DISTRICT_NAMES.items()]
    earlier = QueryContext(synthetic_now - timedelta(days=3), synthetic_now - timedelta(days=2))
    assert conn.execute(expand_sql(district_variable_query(), earlier).encode()).fetchall() == []


def test_every_promql_expression_is_accepted(prometheus_url: str, synthetic_now: datetime) -> None:
    variables = {"district": ALL_DISTRICTS, "window_kind": ["1m"]}
    for query in PROMQL:
        run_promql(prometheus_url, query, context(query, synthetic_now, variables))
    broken = replace(PROMQL[0], text="sum by (topic (x")
    with pytest.raises(PromQLError, match="400"):
        run_promql(prometheus_url, broken, context(broken, synthetic_now, variables))


@pytest.mark.parametrize("slug", [spec.slug for spec in BOARDS])
def test_preview_renders_every_board(
    kpi_database: str, prometheus_url: str, synthetic_now: datetime, tmp_path: Path, slug: str
) -> None:
    from dashboards.preview import render

    board = board_json(next(s for s in BOARDS if s.slug == slug).build())
    out = tmp_path / f"{slug}.png"
    variables = {"district": ALL_DISTRICTS, "window_kind": ["15m"]}
    with psycopg.connect(kpi_database, autocommit=True) as connection:
        fetched = render(board, out, connection, prometheus_url, variables, now=synthetic_now)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert set(fetched) == {q.panel_id for q in panel_queries(board)}
    errors = {pid: data.error for pid, data in fetched.items() if data.error}
    assert not errors
    if slug != "pipeline":
        sql_panels = {q.panel_id for q in panel_queries(board) if q.is_sql}
        assert all(any(f.size for f in fetched[pid].frames) for pid in sql_panels)


def test_preview_at_a_past_period_shows_its_kpis(
    kpi_database: str, prometheus_url: str, synthetic_now: datetime, tmp_path: Path
) -> None:
    """The demo's period may lie days back: KPI panels read the range ending ``kpis_at``."""
    from dashboards.preview import render

    board = board_json(next(s for s in BOARDS if s.slug == "services").build())
    variables = {"district": ALL_DISTRICTS, "window_kind": ["15m"]}
    later = synthetic_now + timedelta(days=3)
    sql_panels = {q.panel_id for q in panel_queries(board) if q.is_sql}
    with psycopg.connect(kpi_database, autocommit=True) as connection:
        today = render(board, tmp_path / "a.png", connection, prometheus_url, variables, now=later)
        past = render(
            board,
            tmp_path / "b.png",
            connection,
            prometheus_url,
            variables,
            now=later,
            kpis_at=synthetic_now,
        )
    assert not any(f.size for pid in sql_panels for f in today[pid].frames)
    assert all(any(f.size for f in past[pid].frames) for pid in sql_panels)


HOSTILE = (
    "1m' OR '1'='1",
    "1m') OR ('1'='1",
    "'; DROP TABLE kpi; --",
    "1m'; SELECT pg_sleep(30); --",
    "15m' UNION SELECT 1 --",
    "1h\\'",
)


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_window_kind_selects_nothing(
    conn: Any, synthetic_now: datetime, value: str
) -> None:
    """Whatever text a viewer puts in $window_kind, no query errs or shows a row."""
    variables = {"district": ALL_DISTRICTS, "window_kind": [value]}
    shown = [q.label for q in SQL if run_sql(conn, q, context(q, synthetic_now, variables)).rows]
    assert not shown
    assert conn.execute("SELECT count(*) FROM kpi").fetchone()[0] > 0


def test_hostile_districts_show_only_known_selected_districts(
    conn: Any, synthetic_now: datetime
) -> None:
    """Hostile $district values next to one real district: only that district is shown."""
    variables = {
        "district": [*HOSTILE, "phung-hiep", "phung-hiep' OR '1'='1"],
        "window_kind": ["1m"],
    }
    grids = [q for q in SQL if q.format == "table" and "GROUP BY district" in q.text]
    assert grids
    for grid in grids:
        frame = run_sql(conn, grid, context(grid, synthetic_now, variables))
        assert [row[0] for row in frame.rows] == [DISTRICT_NAMES[District.PHUNG_HIEP]]
    for query in SQL:
        run_sql(conn, query, context(query, synthetic_now, variables))
    assert conn.execute("SELECT count(*) FROM kpi").fetchone()[0] > 0


def test_a_stats_sparkline_takes_quarter_hour_windows_and_the_newest(
    conn: Any, synthetic_now: datetime
) -> None:
    """Of the hopping 15-minute windows a stat shows those that do not overlap, and the
    newest window last (the figure the stat prints)."""
    stats = [q for q in SQL if q.panel_type == "stat"]
    assert stats
    variables = {"district": ALL_DISTRICTS, "window_kind": ["15m"]}
    for query in stats:
        ctx = context(query, synthetic_now, variables)
        times = [row[0] for row in run_sql(conn, query, ctx).rows]
        if not times:
            continue
        kpi = query.text.split("kpi = '")[1].split("'")[0]
        newest = conn.execute(
            "SELECT max(window_start) FROM kpi WHERE kpi = %s AND entity_kind = 'district' "
            "AND window_kind = '15m' AND window_start BETWEEN %s AND %s",
            (kpi, ctx.time_from, ctx.time_to),
        ).fetchone()[0]
        assert times[-1] == newest, query.label
        assert all(t.minute % 15 == 0 and t.second == 0 for t in times[:-1]), query.label
