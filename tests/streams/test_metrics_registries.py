"""Each process exports only its own metrics: worker and sink have separate registries.

The unit tests read the registries as Prometheus would (the text exposition format); the
integration test scrapes a real ``ioc worker``'s /metrics (the sink side is scraped in
tests/sinks/test_sink_cli.py).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from pathlib import Path

import orjson
import pytest
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.metrics import MetricWrapperBase

from common import metrics
from schemas.topics import FARM_TOPIC
from tests.streams.support import PrivateBroker, WorkerProcess, metric_sum, wait_for
from tests.support.kafka import produce

SINK_PREFIX = "ioc_sink_"


def families(registry: CollectorRegistry) -> set[str]:
    """Names of the metric families ``registry`` exposes (``# TYPE`` lines; counters with
    their ``_total``)."""
    text = generate_latest(registry).decode()
    return set(re.findall(r"^# TYPE (\S+) ", text, flags=re.MULTILINE))


def ioc_series(text: str) -> set[str]:
    """Names of the ``ioc_*`` samples of a /metrics page."""
    return set(re.findall(r"^(ioc_[a-z0-9_]+)", text, flags=re.MULTILINE))


def test_every_metric_is_in_exactly_one_process_registry() -> None:
    worker, sink = families(metrics.WORKER_REGISTRY), families(metrics.SINK_REGISTRY)
    defined = [v for v in vars(metrics).values() if isinstance(v, MetricWrapperBase)]
    assert len(defined) >= 20
    for metric in defined:
        name = metric._name + ("_total" if isinstance(metric, Counter) else "")
        in_worker, in_sink = name in worker, name in sink
        assert in_worker != in_sink, f"{name}: worker={in_worker} sink={in_sink}"
        assert in_sink == name.startswith(SINK_PREFIX), name


def test_registries_keep_process_metrics_and_default_registry_has_no_ioc_metric() -> None:
    for registry in (metrics.WORKER_REGISTRY, metrics.SINK_REGISTRY):
        assert "process_start_time_seconds" in families(registry)
    assert not {n for n in families(REGISTRY) if n.startswith("ioc_")}


@pytest.mark.integration
def test_a_running_worker_exports_no_sink_series(tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    event = {
        "event_id": "own-metrics-1",
        "source": "test",
        "occurred_at": now.isoformat(),
        "schema_version": 1,
        "district": "long-my",
        "sensor_id": "lm-sal-001",
        "farm_id": "lm-farm-01",
        "zone": "z1",
        "kind": "salinity",
        "value": 2.5,
        "battery_pct": 70.0,
    }
    with PrivateBroker(tmp_path) as broker:
        asyncio.run(produce(broker.bootstrap, [(FARM_TOPIC, b"long-my", orjson.dumps(event))]))
        worker = WorkerProcess(broker.bootstrap, "own-metrics", tmp_path / "worker.log").start()
        try:
            wait_for(
                lambda: metric_sum(worker.metrics(), "ioc_events_consumed_total") >= 1,
                90,
                "the worker to consume the event",
            )
            names = ioc_series("\n".join(worker.metrics()))
        finally:
            worker.stop()
    assert "ioc_events_consumed_total" in names and "ioc_worker_partitions" in names
    assert not {n for n in names if n.startswith(SINK_PREFIX)}


@pytest.mark.parametrize("ours", [metrics.KPI_LAST, metrics.SENSOR_LAST_SEEN])
def test_dict_gauges_expose_what_prometheus_gauges_would(ours: metrics.DictGauges) -> None:
    gauges, mine = CollectorRegistry(), CollectorRegistry()
    made = [Gauge(name, text, list(ours.labels), registry=gauges) for name, text in ours.families]
    copy = metrics.DictGauges(ours.families, ours.labels, mine)
    assert generate_latest(mine) == generate_latest(gauges)
    width = len(ours.labels)
    sets = [
        (("farm.salinity_max_gl", "sensor", "lm-sal-001", "long-my")[:width], (4.25, 1773100860)),
        (("farm.salinity_max_gl", "district", "long-my", "long-my")[:width], (3, 1773100860)),
        (("farm.salinity_max_gl", "sensor", "lm-sal-001", "long-my")[:width], (1e-7, 1.5)),
    ]
    for labels, numbers in sets:
        for gauge, number in zip(made, numbers, strict=False):
            gauge.labels(*labels).set(number)
        copy.set_all([(labels, numbers[: len(made)])])
    assert generate_latest(mine) == generate_latest(gauges)
    for name, _ in ours.families:
        restricted = generate_latest(mine.restricted_registry([name]))
        assert restricted == generate_latest(gauges.restricted_registry([name]))


def test_dict_gauges_export_at_most_their_cap_of_label_sets_and_count_the_rest() -> None:
    def dropped() -> float:
        sample = metrics.WORKER_REGISTRY.get_sample_value(
            "ioc_metric_series_dropped_total", {"metric": "ioc_test_capped"}
        )
        return sample or 0.0

    families = (("ioc_test_capped", "A capped gauge."),)
    gauges = metrics.DictGauges(families, ("id",), CollectorRegistry(), cap=2)
    before = dropped()
    gauges.set_all([(("a",), (1,)), (("b",), (2,)), (("c",), (3,))])
    gauges.set_all([(("a",), (4,)), (("d",), (5,))])
    assert gauges.values == {("a",): (4.0,), ("b",): (2.0,)}
    assert dropped() - before == 2
