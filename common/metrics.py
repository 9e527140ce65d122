"""Prometheus metrics of workers and sink: every metric the product exposes is defined here.

Names follow Prometheus conventions: base units, ``_total`` for counters, ``_seconds`` for
durations. Label sets are bounded: topics, partitions, window kinds, districts, and entity
ids of KPIs flagged alertable and of farm sensors (at most ``SERIES_CAP`` each).

Each process exports only its own metrics: worker metrics live in ``WORKER_REGISTRY``, sink
metrics (``ioc_sink_*``) in ``SINK_REGISTRY``, and each process serves one of them (plus the
usual ``process_*`` / ``python_*`` series). Nothing is registered in prometheus_client's
default registry, so a sink never reports a worker series as 0 and vice versa.
"""

from __future__ import annotations

import urllib.parse
import urllib.request
from collections.abc import Iterable, Sequence
from typing import Final

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.parser import text_string_to_metric_families


def _process_registry() -> CollectorRegistry:
    """A registry holding the process, platform and GC collectors of the default one."""
    registry = CollectorRegistry(auto_describe=True)
    for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
        registry.register(collector)
    return registry


WORKER_REGISTRY: Final = _process_registry()
"""Metrics of ``ioc worker`` (events, windows, watermarks, lag, KPI gauges)."""
SINK_REGISTRY: Final = _process_registry()
"""Metrics of ``ioc sink`` (``ioc_sink_*``)."""

EVENTS_CONSUMED: Final = Counter(
    "ioc_events_consumed_total",
    "Raw events read from Kafka by the workers, each once (re-reads are redeliveries).",
    ["topic"],
    registry=WORKER_REGISTRY,
)
EVENTS_REDELIVERED: Final = Counter(
    "ioc_events_redelivered_total",
    "Records read again at an offset already applied (stall repair, rebalance, restart); "
    "not consumed events.",
    ["topic"],
    registry=WORKER_REGISTRY,
)
EVENTS_WINDOWED: Final = Counter(
    "ioc_events_windowed_total",
    "Valid events applied to window state.",
    ["topic"],
    registry=WORKER_REGISTRY,
)
EVENTS_INVALID: Final = Counter(
    "ioc_events_invalid_total",
    "Events rejected by validation and sent to the dead-letter topic.",
    ["topic", "reason"],
    registry=WORKER_REGISTRY,
)
EVENTS_LATE: Final = Counter(
    "ioc_events_late_total",
    "Events for windows already closed, sent to city.late.v1.",
    ["topic"],
    registry=WORKER_REGISTRY,
)
EVENTS_DUPLICATE: Final = Counter(
    "ioc_events_duplicate_total",
    "Events skipped as duplicates of an event_id windowed before (kind=event_id).",
    ["topic", "kind"],
    registry=WORKER_REGISTRY,
)
EVENTS_REROUTED: Final = Counter(
    "ioc_events_rerouted_total",
    "Valid events found outside their district's partition and copied to it (the copy is "
    "consumed and counted there again).",
    ["topic"],
    registry=WORKER_REGISTRY,
)
ENTITY_CLAIMS: Final = Counter(
    "ioc_entity_claims_total",
    "Claims this worker appended to city.entity-claims.v1: entities no registry or earlier "
    "claim named (the first claim of an entity in that log fixes its district).",
    registry=WORKER_REGISTRY,
)
CLAIM_SECONDS: Final = Histogram(
    "ioc_entity_claim_seconds",
    "Time a batch waited for its new entities' claims: read the claims log, append the "
    "missing claims and read them back.",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0),
    registry=WORKER_REGISTRY,
)
PRODUCE_FAILURES: Final = Counter(
    "ioc_worker_produce_failures_total",
    "Re-routed copies, dead letters or late records the broker refused after every retry; "
    "the worker stops without committing past them.",
    ["topic"],
    registry=WORKER_REGISTRY,
)
STEP_SECONDS: Final = Histogram(
    "ioc_worker_step_seconds",
    "Time to process one step (the fetched records an agent takes together), writes included.",
    ["topic"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=WORKER_REGISTRY,
)
STEP_RECORDS: Final = Histogram(
    "ioc_worker_step_records",
    "Records per processing step.",
    ["topic"],
    buckets=(1, 10, 100, 1000, 5000, 10000, 25000, 50000),
    registry=WORKER_REGISTRY,
)
STEPS_IN_PROGRESS: Final = Gauge(
    "ioc_worker_steps_in_progress",
    "Processing steps under way (at most one per partition lane).",
    registry=WORKER_REGISTRY,
)
WINDOW_STATE_ENTRIES: Final = Gauge(
    "ioc_window_state_entries",
    "Open window-state entries (panes) held by this worker.",
    registry=WORKER_REGISTRY,
)
PARTITIONS_HELD: Final = Gauge(
    "ioc_worker_partitions",
    "Source partitions whose window state this worker holds.",
    registry=WORKER_REGISTRY,
)
WINDOWS_CLOSED: Final = Counter(
    "ioc_windows_closed_total",
    "Windows closed by the watermark.",
    ["window"],
    registry=WORKER_REGISTRY,
)
KPI_ROWS_EMITTED: Final = Counter(
    "ioc_kpi_rows_emitted_total",
    "Final KPI rows produced to city.kpi.v1.",
    ["window"],
    registry=WORKER_REGISTRY,
)
WATERMARK: Final = Gauge(
    "ioc_watermark_timestamp_seconds",
    "Event-time watermark of a source partition (Unix time): the aligned one, by which its "
    "windows close and its events turn late.",
    ["topic", "partition"],
    registry=WORKER_REGISTRY,
)
WATERMARK_DELAY: Final = Gauge(
    "ioc_watermark_delay_seconds",
    "Wall clock minus the (aligned) event-time watermark of a source partition.",
    ["topic", "partition"],
    registry=WORKER_REGISTRY,
)
WATERMARK_HELD_BACK: Final = Gauge(
    "ioc_watermark_held_back_seconds",
    "How far a source partition's own watermark is ahead of the aligned one: the other "
    "partitions of its topic have not read that far, and a re-routed copy may still come.",
    ["topic", "partition"],
    registry=WORKER_REGISTRY,
)
PROGRESS_MARKERS: Final = Counter(
    "ioc_progress_markers_total",
    "Progress markers this worker appended to other partitions of a raw topic "
    "(direction=sent) and took from its own (direction=read).",
    ["topic", "direction"],
    registry=WORKER_REGISTRY,
)
EVENTS_CLOCK_NOTED: Final = Counter(
    "ioc_events_clock_noted_total",
    "Records judged by the worker's wall clock instead of their record time (stamped ahead "
    "of it, with their event ahead too), noted on city.clock.v1 so that replay judges them "
    "alike.",
    ["topic"],
    registry=WORKER_REGISTRY,
)
FUTURE_EVENTS_HELD: Final = Gauge(
    "ioc_events_future_held",
    "Events of a source partition held in panes that start after the worker's wall clock: "
    "accepted future events wait there instead of moving the watermark.",
    ["topic", "partition"],
    registry=WORKER_REGISTRY,
)
CONSUMER_LAG: Final = Gauge(
    "ioc_consumer_lag_messages",
    "High watermark minus the next offset to read, per source partition.",
    ["topic", "partition"],
    registry=WORKER_REGISTRY,
)


SERIES_DROPPED: Final = Counter(
    "ioc_metric_series_dropped_total",
    "Label sets not exported because a bounded metric reached its cap.",
    ["metric"],
    registry=WORKER_REGISTRY,
)
SERIES_CAP: Final = 5000
"""Label sets a :class:`DictGauges` exports at most (entity ids come from producers)."""


class DictGauges:
    """Gauges of one label set, exported as prometheus_client's ``Gauge``s would be, whose
    values live in one plain dict read at scrape time: setting a label set's values is one
    dict store (a worker sets thousands per batch; a ``Gauge`` child takes a lock per set).
    At most ``cap`` label sets are exported; each refused one counts in
    ``ioc_metric_series_dropped_total{metric=<first family>}``.
    """

    def __init__(
        self,
        families: Sequence[tuple[str, str]],
        labels: tuple[str, ...],
        registry: CollectorRegistry,
        cap: int = SERIES_CAP,
    ) -> None:
        self.families = tuple(families)
        """(name, help) of each gauge, in the order of the values of a label set."""
        self.labels = labels
        self.cap = cap
        self.values: dict[tuple[str, ...], tuple[float, ...]] = {}
        registry.register(self)

    def set_all(self, items: Iterable[tuple[tuple[str, ...], tuple[float, ...]]]) -> None:
        """Set every gauge of each (label values, gauge values) of ``items``; a label set
        not exported yet is refused once ``cap`` are."""
        values, cap = self.values, self.cap
        for labels, numbers in items:
            if len(values) >= cap and labels not in values:
                SERIES_DROPPED.labels(metric=self.families[0][0]).inc()
                continue
            values[labels] = tuple(map(float, numbers))

    def describe(self) -> list[GaugeMetricFamily]:
        """The families, without samples (what a name-restricted scrape selects by)."""
        return self._families()

    def collect(self) -> list[GaugeMetricFamily]:
        """The families with a sample per label set, in the order they were first set."""
        families = self._families()
        for labels, numbers in list(self.values.items()):
            for family, number in zip(families, numbers, strict=True):
                family.add_metric(labels, number)
        return families

    def _families(self) -> list[GaugeMetricFamily]:
        return [GaugeMetricFamily(n, h, labels=self.labels) for n, h in self.families]


KPI_LAST: Final = DictGauges(
    (
        (
            "ioc_kpi_last_value",
            "Last closed 1-minute value of an alertable KPI per entity.",
        ),
        (
            "ioc_kpi_last_window_end_timestamp_seconds",
            "End of the window behind ioc_kpi_last_value (Unix time).",
        ),
    ),
    ("kpi", "entity_kind", "entity_id", "district"),
    WORKER_REGISTRY,
)
"""``ioc_kpi_last_value`` and its window end per alertable KPI and entity."""
SENSOR_LAST_SEEN: Final = DictGauges(
    (
        (
            "ioc_sensor_last_seen_timestamp_seconds",
            "Event time of the latest reading of a farm sensor (Unix time).",
        ),
    ),
    ("sensor_id", "district"),
    WORKER_REGISTRY,
)
SINK_ROWS_WRITTEN: Final = Counter(
    "ioc_sink_rows_written_total",
    "KPI rows upserted into TimescaleDB.",
    ["table"],
    registry=SINK_REGISTRY,
)
SINK_BATCH_SECONDS: Final = Histogram(
    "ioc_sink_batch_seconds",
    "Time to write one batch (COPY + upsert + commit).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=SINK_REGISTRY,
)
SINK_VISIBLE_DELAY: Final = Histogram(
    "ioc_sink_visible_delay_seconds",
    "From a message's Kafka timestamp (a KPI message: when the worker closed its windows) "
    "to the commit that made its rows visible in TimescaleDB.",
    ["table"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0),
    registry=SINK_REGISTRY,
)
SINK_BATCH_ROWS: Final = Histogram(
    "ioc_sink_batch_rows",
    "Rows per sink batch.",
    buckets=(1, 10, 50, 100, 500, 1000, 5000, 10000, 50000),
    registry=SINK_REGISTRY,
)
SINK_ERRORS: Final = Counter(
    "ioc_sink_errors_total", "Sink failures by kind.", ["kind"], registry=SINK_REGISTRY
)
SINK_UP: Final = Gauge(
    "ioc_sink_database_up",
    "1 while the sink can write to TimescaleDB, 0 while it retries.",
    registry=SINK_REGISTRY,
)
SINK_ROWS_REJECTED: Final = Counter(
    "ioc_sink_rows_rejected_total",
    "KPI rows refused by the database, sent to dead letters.",
    registry=SINK_REGISTRY,
)


def scrape(port: int, host: str = "127.0.0.1", names: Sequence[str] = ()) -> dict[str, float]:
    """Samples of a /metrics endpoint as ``name{labels} -> value`` ({} when it does not answer).

    ``names`` restricts the answer to those metrics (``?name[]=...``): far cheaper for the
    worker than rendering every series when a caller polls one counter.
    """
    query = "&".join(f"name[]={urllib.parse.quote(n)}" for n in names)
    url = f"http://{host}:{port}/metrics" + (f"?{query}" if query else "")
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:
            text = reply.read().decode()
    except OSError:
        return {}
    return samples_of(text)


def samples_of(text: str) -> dict[str, float]:
    """Samples of Prometheus exposition ``text`` as ``name{labels} -> value``."""
    return {
        series(sample.name, sample.labels): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def series(name: str, labels: dict[str, str]) -> str:
    """The key of a sample in :func:`samples_of`: ``name{label="value",...}``, labels sorted."""
    if not labels:
        return name
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def total(samples: dict[str, float], name: str) -> float:
    """Sum of every label set of metric ``name`` in scraped ``samples``."""
    return sum(v for k, v in samples.items() if k == name or k.startswith(name + "{"))


def serve(registry: CollectorRegistry, port: int, addr: str = "127.0.0.1") -> None:
    """Expose ``registry`` as /metrics on ``addr:port`` from a background thread."""
    start_http_server(port, addr=addr, registry=registry)
