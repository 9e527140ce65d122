"""Every stat, table and map of every board shows the figure computed by hand, as text.

The small data set of ``truth_data`` goes into a fresh migrated TimescaleDB (plain COPY into
table ``kpi``) and into a private Prometheus (promtool backfill). Each panel's queries run
as Grafana would send them (variables and macros expanded, read-only role ``ioc_grafana``);
``dashboards.shown`` reduces and formats the result as Grafana 11 does (unit, decimals,
mappings, hidden columns; a map's points with their threshold colour). The expected texts
below were worked out by hand from the data set, not by the product's code: province
figures merge districts by their weight (``sum(value * weight) / sum(weight)``), counts add
up, extremes and quantiles take the worst district. A panel type or title without an
expectation fails the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from dashboards.boards import BOARDS
from dashboards.build import board_json
from dashboards.preview import render
from dashboards.queries import Frame, context, panel_queries, run_promql, run_sql, walk_panels
from dashboards.shown import map_points, stat_texts, table_rows
from dashboards.sql import DISTRICT_HEADER
from deploy.devstack.urls import with_user
from schemas.places import District
from schemas.topics import FARM_TOPIC, NETWORK_TOPIC, PORTAL_TOPIC
from sinks.migrate import migrate
from streams.catalog import CATALOG, by_name
from tests.dashboards.dashboards_synthetic import insert
from tests.dashboards.private_prometheus import private_prometheus
from tests.dashboards.truth_data import ENTITY_POSITIONS, openmetrics, rows

pytestmark = pytest.mark.integration

ALL = {"district": [d.value for d in District], "window_kind": ["15m"]}
NOT_CHECKED = frozenset({"timeseries"})
"""Panel types that show no single figure (lines over time)."""

VT, NB, LM = "Thành phố Vị Thanh", "Thành phố Ngã Bảy", "Huyện Long Mỹ"

# kpi -> (province stat, Vi Thanh, Nga Bay, Long My) as the boards must print them.
# Province: weighted means, sums of counts, worst district for extremes and quantiles.
DISTRICT_TEXT: dict[str, tuple[str, str, str, str]] = {
    "portal.dossiers_received": ("20", "12", "8", "5"),  # 12 + 8
    "portal.online_submission_rate": ("67.50%", "90.00%", "60.00%", "81.25%"),  # 27/40
    "portal.online_payment_rate": ("31.25%", "50.00%", "25.00%", "40.00%"),  # 5/16
    "portal.on_time_rate": ("92.86%", "100.00%", "87.50%", "95.50%"),  # 13/14
    # max(6.5, 30) h = 1.25 day, rounded half up; 20 h stays in hours
    "portal.processing_time_p50_hours": ("1.3 day", "6.5 hour", "1.3 day", "20.0 hour"),
    # 120 h = 5 days; 50 h = 2.08 days; 200 h = 1.19 weeks
    "portal.processing_time_p95_hours": ("5.0 day", "2.1 day", "5.0 day", "1.2 week"),
    "portal.component_reuse_rate": ("35.00%", "20.00%", "40.00%", "30.00%"),  # 7/20
    "portal.rating_mean": ("3.50", "4.50", "3.00", "4.25"),  # 21/6
    "portal.dossiers_completed": ("10", "7", "3", "2"),
    "network.availability_ratio": ("99.5200%", "99.9000%", "98.0000%", "96.5000%"),  # 1244/1250
    "network.latency_p95_ms": ("260 ms", "80 ms", "260 ms", "146 ms"),  # 145.5 half up
    "network.loss_mean_pct": ("2.38%", "0.50%", "3.00%", "1.00%"),  # 950/400 = 2.375
    "network.downlink_4g_mean_mbps": ("40.0 Mbps", "50.0 Mbps", "30.0 Mbps", "35.3 Mbps"),
    "network.downlink_5g_mean_mbps": ("135.0 Mbps", "150.0 Mbps", "90.0 Mbps", "110.0 Mbps"),
    "network.outage_minutes": ("1.5 min", "0.0 min", "3.0 min", "0.6 min"),  # 30/20
    "network.share_2g_subscribers": ("6.25%", "10.00%", "5.00%", "12.00%"),  # 250/4000
    "farm.salinity_mean_gl": ("2.25 g/L", "1.50 g/L", "4.50 g/L", "0.75 g/L"),  # 90/40
    "farm.salinity_max_gl": ("6.40 g/L", "2.10 g/L", "6.40 g/L", "1.20 g/L"),
    "farm.salinity_minutes_above_4": ("2.3 min", "0.0 min", "9.0 min", "0.0 min"),  # 90/40
    "farm.soil_moisture_min_pct": ("22.5%", "35.0%", "22.5%", "40.0%"),
    "farm.air_temperature_max_c": ("35.8 °C", "33.2 °C", "35.8 °C", "31.0 °C"),
    "farm.water_level_mean_cm": ("70.0 cm", "80.0 cm", "40.0 cm", "55.0 cm"),  # 2800/40
    "farm.completeness_ratio": ("95.00%", "100.00%", "80.00%", "90.00%"),  # 57/60
    "farm.battery_min_pct": ("18%", "88%", "18%", "55%"),
}

OVERVIEW_GRID = (
    ("portal.online_submission_rate", "Nộp trực tuyến"),
    ("portal.on_time_rate", "Đúng hạn"),
    ("network.availability_ratio", "Sẵn sàng mạng"),
    ("network.latency_p95_ms", "Độ trễ p95"),
    ("network.downlink_4g_mean_mbps", "4G"),
    ("network.downlink_5g_mean_mbps", "5G"),
    ("farm.salinity_max_gl", "Độ mặn max"),
)
OVERVIEW_STATS = (
    "portal.online_submission_rate",
    "portal.on_time_rate",
    "network.availability_ratio",
    "network.downlink_4g_mean_mbps",
    "network.downlink_5g_mean_mbps",
    "farm.salinity_max_gl",
)
ALERT = {
    "alertname": "SalinityHigh",
    "district": NB,
    "severity": "critical",
    "team": "agriculture",
}

AGENCIES = [  # on-time rate lowest first, the agency without one last
    {"Cơ quan": "ubnd-nga-bay", DISTRICT_HEADER: NB, "Đúng hạn": "80.00%",
     "Nộp trực tuyến": "100.00%", "Thanh toán trực tuyến": "12.50%",
     "Thời gian xử lý p95": "10.0 hour", "Tiếp nhận": "6", "Đã giải quyết": "5",
     "Hài lòng": "3.75"},
    {"Cơ quan": "so-tu-phap", DISTRICT_HEADER: VT, "Đúng hạn": "90.00%",
     "Nộp trực tuyến": "75.00%", "Thanh toán trực tuyến": "60.00%",
     "Thời gian xử lý p95": "1.3 day", "Tiếp nhận": "4", "Đã giải quyết": "3",
     "Hài lòng": "4.00"},
    {"Cơ quan": "so-xay-dung", DISTRICT_HEADER: NB, "Đúng hạn": "—",
     "Nộp trực tuyến": "50.00%", "Thanh toán trực tuyến": "—", "Thời gian xử lý p95": "—",
     "Tiếp nhận": "2", "Đã giải quyết": "—", "Hài lòng": "—"},
]  # fmt: skip
SITES = [  # availability lowest first
    {"Trạm": "nb-001", DISTRICT_HEADER: NB, "Sẵn sàng": "90.0000%", "Độ trễ p95": "310 ms",
     "Mất gói": "7.50%", "4G": "25.0 Mbps", "5G": "—", "Phút mất kết nối": "1.5 min",
     "Thuê bao 2G": "15.00%"},
    {"Trạm": "nb-002", DISTRICT_HEADER: NB, "Sẵn sàng": "99.9950%", "Độ trễ p95": "120 ms",
     "Mất gói": "1.13%", "4G": "44.4 Mbps", "5G": "101.3 Mbps", "Phút mất kết nối": "0.3 min",
     "Thuê bao 2G": "0.10%"},
    {"Trạm": "vt-001", DISTRICT_HEADER: VT, "Sẵn sàng": "100.0000%", "Độ trễ p95": "45 ms",
     "Mất gói": "0.25%", "4G": "61.5 Mbps", "5G": "240.0 Mbps", "Phút mất kết nối": "0.0 min",
     "Thuê bao 2G": "8.00%"},
]  # fmt: skip
SENSORS = [  # saltiest first
    {"Cảm biến": "nb-s01", DISTRICT_HEADER: NB, "Độ mặn max": "7.25 g/L",
     "Độ mặn TB": "5.50 g/L", "Phút > 4 g/L": "12.0 min", "Độ ẩm đất min": "20.5%",
     "Mực nước": "35.0 cm", "Đầy đủ dữ liệu": "80.00%", "Pin": "15%"},
    {"Cảm biến": "nb-s02", DISTRICT_HEADER: NB, "Độ mặn max": "4.00 g/L",
     "Độ mặn TB": "3.13 g/L", "Phút > 4 g/L": "0.5 min", "Độ ẩm đất min": "30.0%",
     "Mực nước": "60.3 cm", "Đầy đủ dữ liệu": "93.33%", "Pin": "50%"},
    {"Cảm biến": "vt-s01", DISTRICT_HEADER: VT, "Độ mặn max": "1.80 g/L",
     "Độ mặn TB": "1.20 g/L", "Phút > 4 g/L": "0.0 min", "Độ ẩm đất min": "45.0%",
     "Mực nước": "90.0 cm", "Đầy đủ dữ liệu": "100.00%", "Pin": "76%"},
]  # fmt: skip
SITE_POINTS = [  # availability best first: the worst drawn last, on top
    {"layer": "Trạm và tuyến", "lat": 9.79, "lon": 105.47, "Trạm": "vt-001",
     DISTRICT_HEADER: VT, "Sẵn sàng": "100.0000%", "colour": "green"},
    {"layer": "Trạm và tuyến", "lat": 9.84, "lon": 105.80, "Trạm": "nb-002",
     DISTRICT_HEADER: NB, "Sẵn sàng": "99.9950%", "colour": "green"},
    {"layer": "Trạm và tuyến", "lat": 9.82, "lon": 105.82, "Trạm": "nb-001",
     DISTRICT_HEADER: NB, "Sẵn sàng": "90.0000%", "colour": "red"},  # below 97 %
]  # fmt: skip
SENSOR_POINTS = [  # least salty first; 4.00 g/L is still amber (red above 4)
    {"layer": "Cảm biến độ mặn", "lat": 9.76, "lon": 105.45, "Cảm biến": "vt-s01",
     DISTRICT_HEADER: VT, "Độ mặn max": "1.80 g/L", "colour": "green"},
    {"layer": "Cảm biến độ mặn", "lat": 9.83, "lon": 105.85, "Cảm biến": "nb-s02",
     DISTRICT_HEADER: NB, "Độ mặn max": "4.00 g/L", "colour": "orange"},
    {"layer": "Cảm biến độ mặn", "lat": 9.80, "lon": 105.83, "Cảm biến": "nb-s01",
     DISTRICT_HEADER: NB, "Độ mặn max": "7.25 g/L", "colour": "red"},
]  # fmt: skip
OVERVIEW_MAP = "Bản đồ tỉnh — trạm theo sẵn sàng, cảm biến theo độ mặn"
PIPELINE_STATS = {
    "Sự kiện / giây": ["30 ops"],  # 12/s + 18/s of the workers; the sink's 1000/s ignored
    "Không hợp lệ / giây": ["0.25 ops"],  # 0.2 + 0.05
    "Đến trễ / giây": ["0.00 ops"],
    "Độ trễ tiêu thụ (max)": ["1500"],  # the sink's 99999 is not a worker's lag
    "Trễ watermark (max)": ["1.6 min"],  # 95 s
    "Cơ sở dữ liệu (sink)": ["HOẠT ĐỘNG"],  # the worker's stray 0 ignored
    "Worker đang chạy": ["2"],
    "Sink đang chạy": ["1"],
}


def _grid(names: list[tuple[str, str]]) -> list[dict[str, str]]:
    """District grid rows (Vi Thanh, Nga Bay, Long My) of the hand texts above."""
    return [
        {DISTRICT_HEADER: district, **{header: DISTRICT_TEXT[k][i] for k, header in names}}
        for i, district in ((1, VT), (2, NB), (3, LM))
    ]


def _domain(topic: str, grid_title: str, entity_title: str, entities: Any) -> dict[str, Any]:
    kpis = [k for k in CATALOG if k.topic == topic]
    expected: dict[str, Any] = {k.title_vi: [DISTRICT_TEXT[k.name][0]] for k in kpis}
    expected[grid_title] = _grid([(k.name, k.title_vi) for k in kpis])
    expected[entity_title] = entities
    return expected


GRID = "Theo huyện, thị xã, thành phố — giá trị mới nhất"
EXPECTED: dict[str, dict[str, Any]] = {
    "overview": {
        **{by_name(k).title_vi: [DISTRICT_TEXT[k][0]] for k in OVERVIEW_STATS},
        "Các huyện, thị xã, thành phố — giá trị mới nhất": _grid(list(OVERVIEW_GRID)),
        "Cảnh báo đang kích hoạt": [ALERT],
        OVERVIEW_MAP: SITE_POINTS + SENSOR_POINTS,
    },
    "services": _domain(
        PORTAL_TOPIC,
        GRID,
        "Cơ quan giải quyết — giá trị mới nhất (đúng hạn thấp nhất trước)",
        AGENCIES,
    ),
    "network": {
        **_domain(
            NETWORK_TOPIC,
            GRID,
            "Trạm và tuyến — giá trị mới nhất (sẵn sàng thấp nhất trước)",
            SITES,
        ),
        "Bản đồ trạm và tuyến — tỷ lệ sẵn sàng": SITE_POINTS,
    },
    "agriculture": {
        **_domain(FARM_TOPIC, GRID, "Cảm biến — giá trị mới nhất (mặn nhất trước)", SENSORS),
        "Bản đồ cảm biến — độ mặn cao nhất": SENSOR_POINTS,
    },
    "pipeline": {
        **PIPELINE_STATS,
        "Cảnh báo đang kích hoạt": [{**ALERT, "environment": "dev"}],
    },
}


@pytest.fixture(scope="module")
def now() -> datetime:
    """The moment the boards are looked at (whole minutes, as the data set's windows)."""
    return datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)


@pytest.fixture(scope="module")
def truth_db(new_database: Callable[..., str], now: datetime) -> Iterator[psycopg.Connection[Any]]:
    """A connection as ``ioc_grafana`` to a migrated database holding the hand data set."""
    url = new_database("truth")
    migrate(url)
    insert(url, rows(now))
    with psycopg.connect(url) as conn:
        conn.cursor().executemany(
            "INSERT INTO entity (entity_kind, entity_id, district, longitude, latitude) "
            "VALUES (%s, %s, %s, %s, %s)",
            [(*key, *where) for key, where in ENTITY_POSITIONS.items()],
        )
    with psycopg.connect(with_user(url, "ioc_grafana"), autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def truth_prometheus(tmp_path_factory: pytest.TempPathFactory, now: datetime) -> Iterator[str]:
    """Base URL of a private Prometheus holding the hand data set's samples."""
    with private_prometheus(openmetrics(now), tmp_path_factory.mktemp("prometheus")) as url:
        yield url


def shown(
    slug: str,
    conn: psycopg.Connection[Any],
    prometheus_url: str,
    now: datetime,
    variables: dict[str, list[str]],
) -> dict[str, Any]:
    """Panel title -> what the panel shows (stat: its texts; table: its rows)."""
    board = board_json(next(s for s in BOARDS if s.slug == slug).build())
    queries = panel_queries(board)
    found: dict[str, Any] = {}
    for panel in walk_panels(board):
        kind = panel["type"]
        if kind in NOT_CHECKED:
            continue
        frames: list[Frame] = []
        for query in (q for q in queries if q.panel_id == panel["id"]):
            ctx = context(query, now, variables)
            if query.is_sql:
                frames.append(run_sql(conn, query, ctx))
            else:
                frames.append(run_promql(prometheus_url, query, ctx))
        if kind == "stat":
            found[panel["title"]] = stat_texts(panel, frames)
        elif kind == "table":
            found[panel["title"]] = table_rows(panel, frames)
        elif kind == "geomap":
            found[panel["title"]] = map_points(panel, frames)
        else:
            raise AssertionError(f"{slug}: no check for panel type {kind!r} ({panel['title']})")
    return found


@pytest.mark.parametrize("slug", [spec.slug for spec in BOARDS])
def test_every_stat_and_table_shows_the_hand_computed_text(
    slug: str, truth_db: psycopg.Connection[Any], truth_prometheus: str, now: datetime
) -> None:
    got = shown(slug, truth_db, truth_prometheus, now, ALL)
    want = EXPECTED[slug]
    assert sorted(got) == sorted(want), "panels without a hand-computed expectation, or gone"
    wrong = {title: (got[title], want[title]) for title in want if got[title] != want[title]}
    assert not wrong, "\n".join(f"{t}:\n  shown {g}\n  want  {w}" for t, (g, w) in wrong.items())


def test_one_district_selected_shows_its_own_figures(
    truth_db: psycopg.Connection[Any], truth_prometheus: str, now: datetime
) -> None:
    variables = {"district": [District.NGA_BAY.value], "window_kind": ["15m"]}
    got = shown("overview", truth_db, truth_prometheus, now, variables)
    for k in OVERVIEW_STATS:
        assert got[by_name(k).title_vi] == [DISTRICT_TEXT[k][2]], k
    grid = got["Các huyện, thị xã, thành phố — giá trị mới nhất"]
    assert grid == [_grid(list(OVERVIEW_GRID))[1]]
    assert got[OVERVIEW_MAP] == [p for p in SITE_POINTS + SENSOR_POINTS if p[DISTRICT_HEADER] == NB]


def test_a_window_kind_without_rows_shows_no_value(
    truth_db: psycopg.Connection[Any], truth_prometheus: str, now: datetime
) -> None:
    """No 1-hour rows in the data set: every SQL stat says "—", every SQL table is empty."""
    variables = {"district": ALL["district"], "window_kind": ["1h"]}
    got = shown("agriculture", truth_db, truth_prometheus, now, variables)
    assert {title: v for title, v in got.items() if v not in (["—"], [])} == {}


def test_every_panel_has_an_expectation() -> None:
    """The expectations name every panel title once (a renamed panel must be re-checked)."""
    titles = [
        (spec.slug, p["title"])
        for spec in BOARDS
        for p in walk_panels(board_json(spec.build()))
        if p["type"] not in NOT_CHECKED
    ]
    assert sorted(titles) == sorted((s, t) for s, want in EXPECTED.items() for t in want)


def test_the_preview_draws_the_maps(
    truth_db: psycopg.Connection[Any], truth_prometheus: str, now: datetime, tmp_path: Path
) -> None:
    """``ioc dashboards preview`` draws each map's points on the district outlines."""
    for slug, title in (
        ("overview", OVERVIEW_MAP),
        ("network", "Bản đồ trạm và tuyến — tỷ lệ sẵn sàng"),
    ):
        board = board_json(next(s for s in BOARDS if s.slug == slug).build())
        out = tmp_path / f"{slug}.png"
        fetched = render(board, out, truth_db, truth_prometheus, ALL, now=now)
        panel = next(p for p in walk_panels(board) if p["title"] == title)
        drawn = map_points(panel, fetched[panel["id"]].frames)
        assert drawn == EXPECTED[slug][title]
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
