"""Every PromQL expression the boards use, on the metric names of ``streams.metrics``.

Job names (``worker``, ``sink``) are those of deploy/prometheus/prometheus.yml.
``$__rate_interval`` is Grafana's safe rate window (at least four scrape intervals).
"""

from __future__ import annotations

from typing import Final

RATE: Final = "[$__rate_interval]"

FIRING_ALERTS: Final = 'ALERTS{alertstate="firing"}'

EVENTS_CONSUMED_BY_TOPIC: Final = f"sum by (topic) (rate(ioc_events_consumed_total{RATE}))"
EVENTS_CONSUMED_TOTAL: Final = f"sum(rate(ioc_events_consumed_total{RATE}))"
EVENTS_INVALID_BY_TOPIC: Final = f"sum by (topic) (rate(ioc_events_invalid_total{RATE}))"
EVENTS_INVALID_BY_REASON: Final = f"sum by (reason) (rate(ioc_events_invalid_total{RATE}))"
EVENTS_LATE_BY_TOPIC: Final = f"sum by (topic) (rate(ioc_events_late_total{RATE}))"
EVENTS_DUPLICATE_BY_KIND: Final = f"sum by (topic, kind) (rate(ioc_events_duplicate_total{RATE}))"
REJECTED_TOTAL: Final = f"sum(rate(ioc_events_invalid_total{RATE})) or vector(0)"
LATE_TOTAL: Final = f"sum(rate(ioc_events_late_total{RATE})) or vector(0)"

CONSUMER_LAG_BY_TOPIC: Final = "sum by (topic) (ioc_consumer_lag_messages)"
CONSUMER_LAG_MAX: Final = "max(ioc_consumer_lag_messages)"
WATERMARK_DELAY_BY_TOPIC: Final = "max by (topic) (ioc_watermark_delay_seconds)"
WATERMARK_DELAY_MAX: Final = "max(ioc_watermark_delay_seconds)"

WINDOW_STATE_ENTRIES: Final = "sum(ioc_window_state_entries)"
KPI_ROWS_EMITTED_BY_WINDOW: Final = f"sum by (window) (rate(ioc_kpi_rows_emitted_total{RATE}))"
WINDOWS_CLOSED_BY_WINDOW: Final = f"sum by (window) (rate(ioc_windows_closed_total{RATE}))"
SERIES_DROPPED: Final = f"sum by (metric) (rate(ioc_metric_series_dropped_total{RATE}))"

WORKER_STEP_P99_BY_TOPIC: Final = (
    f"histogram_quantile(0.99, sum by (topic, le) (rate(ioc_worker_step_seconds_bucket{RATE})))"
)
WORKER_STEP_P50_BY_TOPIC: Final = (
    f"histogram_quantile(0.5, sum by (topic, le) (rate(ioc_worker_step_seconds_bucket{RATE})))"
)

SINK_ROWS_BY_TABLE: Final = f"sum by (table) (rate(ioc_sink_rows_written_total{RATE}))"
SINK_BATCH_P99: Final = (
    f"histogram_quantile(0.99, sum by (le) (rate(ioc_sink_batch_seconds_bucket{RATE})))"
)
SINK_BATCH_P50: Final = (
    f"histogram_quantile(0.5, sum by (le) (rate(ioc_sink_batch_seconds_bucket{RATE})))"
)
SINK_ERRORS_BY_KIND: Final = f"sum by (kind) (rate(ioc_sink_errors_total{RATE}))"
SINK_REJECTED: Final = f"sum(rate(ioc_sink_rows_rejected_total{RATE}))"
SINK_DATABASE_UP: Final = "min(ioc_sink_database_up)"

WORKERS_UP: Final = 'sum(up{job="worker"})'
SINKS_UP: Final = 'sum(up{job="sink"})'
