"""Pipeline health: workers and sink as Prometheus sees them (streams/metrics.py names).

Thresholds of the stats are operational guides, not catalog targets: lag and watermark
delay turn amber and red where an operator should look; the up-gauges are red below 1.
Lag is a plain count (``short`` would print 1500 messages as "2 K") and the watermark
delay keeps a decimal (95 s would read "2 min" at none).
"""

from __future__ import annotations

from typing import Any, Final

from grafanalib import core as g

from dashboards import panels, promql
from dashboards.board import dashboard
from dashboards.kpis import AMBER, GREEN, NEUTRAL, RED
from dashboards.panels import Flow, Look, PromQuery

UID: Final = "ioc-pipeline"
TITLE: Final = "Đường ống dữ liệu — Sức khỏe hệ thống"

_NEUTRAL: Final[list[dict[str, Any]]] = [{"color": NEUTRAL, "value": None}]


def _rising(amber: float, red: float) -> list[dict[str, Any]]:
    return [
        {"color": GREEN, "value": None},
        {"color": AMBER, "value": amber},
        {"color": RED, "value": red},
    ]


_UP: Final[list[dict[str, Any]]] = [{"color": RED, "value": None}, {"color": GREEN, "value": 1}]
_UP_MAPPINGS: Final[list[dict[str, Any]]] = [
    {
        "type": "value",
        "options": {
            "0": {"text": "MẤT KẾT NỐI", "color": RED, "index": 0},
            "1": {"text": "HOẠT ĐỘNG", "color": GREEN, "index": 1},
        },
    }
]

STATS: Final = (
    ("Sự kiện / giây", promql.EVENTS_CONSUMED_TOTAL, Look("ops", 0, _NEUTRAL), None),
    ("Không hợp lệ / giây", promql.REJECTED_TOTAL, Look("ops", 2, _rising(0.1, 10)), None),
    ("Đến trễ / giây", promql.LATE_TOTAL, Look("ops", 2, _rising(0.1, 10)), None),
    ("Độ trễ tiêu thụ (max)", promql.CONSUMER_LAG_MAX, Look("none", 0, _rising(1e3, 1e4)), None),
    ("Trễ watermark (max)", promql.WATERMARK_DELAY_MAX, Look("s", 1, _rising(120, 600)), None),
    ("Cơ sở dữ liệu (sink)", promql.SINK_DATABASE_UP, Look("none", 0, _UP), _UP_MAPPINGS),
    ("Worker đang chạy", promql.WORKERS_UP, Look("none", 0, _UP), None),
    ("Sink đang chạy", promql.SINKS_UP, Look("none", 0, _UP), None),
)

CHARTS: Final = (
    (
        "Sự kiện tiêu thụ / giây theo topic",
        [PromQuery(promql.EVENTS_CONSUMED_BY_TOPIC, "{{topic}}")],
        Look("ops", 1),
    ),
    (
        "Không hợp lệ, đến trễ, trùng lặp / giây",
        [
            PromQuery(promql.EVENTS_INVALID_BY_TOPIC, "không hợp lệ {{topic}}"),
            PromQuery(promql.EVENTS_LATE_BY_TOPIC, "đến trễ {{topic}}"),
            PromQuery(promql.EVENTS_DUPLICATE_BY_KIND, "trùng lặp {{kind}} {{topic}}"),
        ],
        Look("ops", 2),
    ),
    (
        "Độ trễ tiêu thụ (consumer lag) theo topic",
        [PromQuery(promql.CONSUMER_LAG_BY_TOPIC, "{{topic}}")],
        Look("short", 0),
    ),
    (
        "Trễ watermark theo topic",
        [PromQuery(promql.WATERMARK_DELAY_BY_TOPIC, "{{topic}}")],
        Look("s", 0),
    ),
    (
        "Sink: dòng ghi / giây",
        [PromQuery(promql.SINK_ROWS_BY_TABLE, "{{table}}")],
        Look("ops", 1),
    ),
    (
        "Sink: thời gian ghi một lô (p50, p99)",
        [
            PromQuery(promql.SINK_BATCH_P99, "p99"),
            PromQuery(promql.SINK_BATCH_P50, "p50"),
        ],
        Look("s", 3),
    ),
    (
        "Sink: lỗi và dòng bị từ chối / giây",
        [
            PromQuery(promql.SINK_ERRORS_BY_KIND, "lỗi {{kind}}"),
            PromQuery(promql.SINK_REJECTED, "bị từ chối"),
        ],
        Look("ops", 2),
    ),
    (
        "Cửa sổ đóng và dòng KPI phát ra / giây",
        [
            PromQuery(promql.WINDOWS_CLOSED_BY_WINDOW, "cửa sổ {{window}}"),
            PromQuery(promql.KPI_ROWS_EMITTED_BY_WINDOW, "dòng KPI {{window}}"),
        ],
        Look("ops", 1),
    ),
    (
        "Worker: thời gian một bước xử lý (p50, p99) theo topic",
        [
            PromQuery(promql.WORKER_STEP_P99_BY_TOPIC, "p99 {{topic}}"),
            PromQuery(promql.WORKER_STEP_P50_BY_TOPIC, "p50 {{topic}}"),
        ],
        Look("s", 3),
    ),
    (
        "Trạng thái cửa sổ đang mở (pane)",
        [PromQuery(promql.WINDOW_STATE_ENTRIES, "pane")],
        Look("short", 0),
    ),
    (
        "Sự kiện không hợp lệ theo lý do",
        [PromQuery(promql.EVENTS_INVALID_BY_REASON, "{{reason}}")],
        Look("ops", 2),
    ),
)


def build() -> g.Dashboard:
    """The pipeline health board."""
    flow = Flow()
    items: list[object] = [
        panels.stat(title, [PromQuery(expr)], look, flow.place(3, 4), mappings=mappings)
        for title, expr, look, mappings in STATS
    ]
    flow.newline()
    items += [panels.timeseries(t, q, look, flow.place(12, 8)) for t, q, look in CHARTS]
    flow.newline()
    items.append(
        panels.table(
            "Cảnh báo đang kích hoạt",
            [PromQuery(promql.FIRING_ALERTS, instant=True, format="table")],
            flow.place(24, 8),
            description='Firing Prometheus alerts (ALERTS{alertstate="firing"}).',
            hidden=("Time", "Value", "__name__", "alertstate"),
            no_value="Không có cảnh báo",
            overrides=[panels.district_name_mappings()],
        )
    )
    return dashboard(
        UID,
        TITLE,
        items,
        description="Stream workers and sink: throughput, rejects, lag, watermarks, writes.",
        time_from="now-1h",
        tags=("pipeline",),
    )
