"""Wall screen of the operations center: the whole province on one 1920x1080 screen.

Height budget. Grafana's grid row is 30 px plus an 8 px gap, so N rows take
``38 * N - 8`` px. On a 1080 px screen with Grafana's chrome shown (top bar 40 px, dashboard
toolbar 48 px, variable bar 40 px, page padding 2 x 16 px) 920 px remain: N <= 24. In kiosk
mode (``?kiosk``, the wall-screen setting) only the padding remains (1048 px): N <= 27.
The board uses ``HEIGHT = 24`` rows, so it never scrolls in either mode. Width: 24 columns
of 80 px at 1920 px.

Layout (rows): 0-5 six big stat panels, 6-15 district grid, province map (cell sites and
links by availability, salinity sensors by salinity) and firing alerts, 16-23 a 24-hour
trend strip.
"""

from __future__ import annotations

from typing import Final

from grafanalib import core as g

from dashboards import panels, promql, sql
from dashboards.board import WALL_REFRESH, dashboard
from dashboards.boards.agriculture import SENSORS_LAYER
from dashboards.boards.network import SITES_LAYER
from dashboards.geomap import geomap
from dashboards.kpis import kpi
from dashboards.panels import Flow, Look, PromQuery, SqlQuery
from dashboards.variables import sql_board_variables

UID: Final = "ioc-overview"
TITLE: Final = "Trung tâm điều hành — Tổng quan"
HEIGHT: Final = 24
"""Rows of the board; must fit 1080 px (see the module docstring)."""

STATS: Final = (
    "portal.online_submission_rate",
    "portal.on_time_rate",
    "network.availability_ratio",
    "network.downlink_4g_mean_mbps",
    "network.downlink_5g_mean_mbps",
    "farm.salinity_max_gl",
)
GRID_COLUMNS: Final = (
    ("portal.online_submission_rate", "Nộp trực tuyến"),
    ("portal.on_time_rate", "Đúng hạn"),
    ("network.availability_ratio", "Sẵn sàng mạng"),
    ("network.latency_p95_ms", "Độ trễ p95"),
    ("network.downlink_4g_mean_mbps", "4G"),
    ("network.downlink_5g_mean_mbps", "5G"),
    ("farm.salinity_max_gl", "Độ mặn max"),
)
TRENDS: Final = (
    ("Dịch vụ công (24 giờ)", ("portal.online_submission_rate", "portal.on_time_rate")),
    ("Mạng: tỷ lệ sẵn sàng (24 giờ)", ("network.availability_ratio",)),
    ("Tốc độ 4G / 5G (24 giờ)", ("network.downlink_4g_mean_mbps", "network.downlink_5g_mean_mbps")),
    ("Độ mặn cao nhất (24 giờ)", ("farm.salinity_max_gl",)),
)
ALERT_LABELS_HIDDEN: Final = ("Time", "Value", "__name__", "alertstate", "environment")


def _trend(title: str, names: tuple[str, ...], pos: g.GridPos) -> g.TimeSeries:
    kpis = [kpi(n) for n in names]
    look = Look.of(kpis[0]) if len(kpis) == 1 else Look(Look.of(kpis[0]).unit, kpis[0].decimals)
    overrides = panels.series_overrides(kpis) if len(kpis) > 1 else None
    return panels.timeseries(
        title,
        [SqlQuery(sql.province_series(k, k.title_vi)) for k in kpis],
        look,
        pos,
        description="; ".join(f"{k.title_en} ({k.name})" for k in kpis),
        time_from="24h",
        show_thresholds=len(kpis) == 1,
        overrides=overrides,
    )


def build() -> g.Dashboard:
    """The overview board."""
    flow = Flow()
    items: list[object] = [panels.kpi_stat(kpi(name), flow.place(4, 6)) for name in STATS]
    flow.newline()
    columns = [sql.Column(kpi(name), header) for name, header in GRID_COLUMNS]
    items.append(
        panels.table(
            "Các huyện, thị xã, thành phố — giá trị mới nhất",
            [SqlQuery(sql.district_grid(columns), format="table")],
            flow.place(10, 10),
            description="Latest window of each KPI per district, coloured by its target.",
            overrides=panels.column_overrides(columns),
        )
    )
    items.append(
        geomap(
            "Bản đồ tỉnh — trạm theo sẵn sàng, cảm biến theo độ mặn",
            [SITES_LAYER, SENSORS_LAYER],
            flow.place(8, 10),
            description="Cell sites and links by availability, salinity sensors by their "
            "highest reading, on the district outlines (latest window of each).",
        )
    )
    items.append(
        panels.table(
            "Cảnh báo đang kích hoạt",
            [PromQuery(promql.FIRING_ALERTS, instant=True, format="table")],
            flow.place(6, 10),
            description='Firing Prometheus alerts (ALERTS{alertstate="firing"}).',
            hidden=ALERT_LABELS_HIDDEN,
            no_value="Không có cảnh báo",
            overrides=[panels.district_name_mappings()],
        )
    )
    flow.newline()
    items += [_trend(title, names, flow.place(6, 8)) for title, names in TRENDS]
    if flow.height != HEIGHT:
        raise AssertionError(f"overview is {flow.height} rows high, budget is {HEIGHT}")
    return dashboard(
        UID,
        TITLE,
        items,
        description="Operations-center wall screen (1920x1080, no scrolling).",
        refresh=WALL_REFRESH,
        time_from="now-3h",
        templating=sql_board_variables(),
        tags=("wall",),
    )
