"""Every PromQL expression the boards use, on the metric names of ``common.metrics``.

Job names (``worker``, ``sink``) are those of deploy/prometheus/prometheus.yml. Every
``ioc_*`` series is selected by the job that exports it (``WORKER`` / ``SINK``), so a board
never mixes the two processes, even when another job happens to export a same-named series.
``$__rate_interval`` is Grafana's safe rate window (at least four scrape intervals).
"""

from __future__ import annotations

from typing import Final

RATE: Final = "[$__rate_interval]"
WORKER: Final = '{job="worker"}'
"""Selector of the worker processes' series."""
SINK: Final = '{job="sink"}'
"""Selector of the sink processes' series."""

FIRING_ALERTS: Final = 'ALERTS{alertstate="firing"}'

EVENTS_CONSUMED_BY_TOPIC: Final = f"sum by (topic) (rate(ioc_events_consumed_total{WORKER}{RATE}))"
EVENTS_CONSUMED_TOTAL: Final = f"sum(rate(ioc_events_consumed_total{WORKER}{RATE}))"
EVENTS_INVALID_BY_TOPIC: Final = f"sum by (topic) (rate(ioc_events_invalid_total{WORKER}{RATE}))"
EVENTS_INVALID_BY_REASON: Final = f"sum by (reason) (rate(ioc_events_invalid_total{WORKER}{RATE}))"
EVENTS_LATE_BY_TOPIC: Final = f"sum by (topic) (rate(ioc_events_late_total{WORKER}{RATE}))"
EVENTS_DUPLICATE_BY_KIND: Final = (
    f"sum by (topic, kind) (rate(ioc_events_duplicate_total{WORKER}{RATE}))"
)
EVENTS_REDELIVERED_BY_TOPIC: Final = (
    f"sum by (topic) (rate(ioc_events_redelivered_total{WORKER}{RATE}))"
)
REJECTED_TOTAL: Final = f"sum(rate(ioc_events_invalid_total{WORKER}{RATE})) or vector(0)"
LATE_TOTAL: Final = f"sum(rate(ioc_events_late_total{WORKER}{RATE})) or vector(0)"

CONSUMER_LAG_BY_TOPIC: Final = f"sum by (topic) (ioc_consumer_lag_messages{WORKER})"
CONSUMER_LAG_MAX: Final = f"max(ioc_consumer_lag_messages{WORKER})"
WATERMARK_DELAY_BY_TOPIC: Final = f"max by (topic) (ioc_watermark_delay_seconds{WORKER})"
WATERMARK_DELAY_MAX: Final = f"max(ioc_watermark_delay_seconds{WORKER})"

WINDOW_STATE_ENTRIES: Final = f"sum(ioc_window_state_entries{WORKER})"
KPI_ROWS_EMITTED_BY_WINDOW: Final = (
    f"sum by (window) (rate(ioc_kpi_rows_emitted_total{WORKER}{RATE}))"
)
WINDOWS_CLOSED_BY_WINDOW: Final = f"sum by (window) (rate(ioc_windows_closed_total{WORKER}{RATE}))"
SERIES_DROPPED: Final = f"sum by (metric) (rate(ioc_metric_series_dropped_total{WORKER}{RATE}))"

WORKER_STEP_P99_BY_TOPIC: Final = (
    f"histogram_quantile(0.99, sum by (topic, le) "
    f"(rate(ioc_worker_step_seconds_bucket{WORKER}{RATE})))"
)
WORKER_STEP_P50_BY_TOPIC: Final = (
    f"histogram_quantile(0.5, sum by (topic, le) "
    f"(rate(ioc_worker_step_seconds_bucket{WORKER}{RATE})))"
)

SINK_ROWS_BY_TABLE: Final = f"sum by (table) (rate(ioc_sink_rows_written_total{SINK}{RATE}))"
SINK_BATCH_P99: Final = (
    f"histogram_quantile(0.99, sum by (le) (rate(ioc_sink_batch_seconds_bucket{SINK}{RATE})))"
)
SINK_BATCH_P50: Final = (
    f"histogram_quantile(0.5, sum by (le) (rate(ioc_sink_batch_seconds_bucket{SINK}{RATE})))"
)
SINK_ERRORS_BY_KIND: Final = f"sum by (kind) (rate(ioc_sink_errors_total{SINK}{RATE}))"
SINK_REJECTED: Final = f"sum(rate(ioc_sink_rows_rejected_total{SINK}{RATE}))"
SINK_DATABASE_UP: Final = f"min(ioc_sink_database_up{SINK})"

WORKERS_UP: Final = f"sum(up{WORKER})"
SINKS_UP: Final = f"sum(up{SINK})"
