"""The baseline of bench/streams_bench.py: a naive Faust tumbling windowed table.

One event per iteration, orjson decode, ``table[district] += value`` on a 1-minute
tumbling table: what a first Faust version of the product would look like, on stock
Faust (no patches). It writes
the elapsed time to BENCH_DONE_FILE once it has seen BENCH_EVENTS events.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import faust
import orjson

BOOTSTRAP = os.environ["IOC_KAFKA_BOOTSTRAP"]
TARGET = int(os.environ["BENCH_EVENTS"])
DONE_FILE = os.environ["BENCH_DONE_FILE"]
TOPICS = os.environ.get(
    "BENCH_TOPICS", "city.portal.dossier.v1,city.network.probe.v1,city.farm.sensor.v1"
).split(",")

app = faust.App(
    os.environ.get("BENCH_APP_ID", "bench-naive"),
    broker=f"kafka://{BOOTSTRAP}",
    store="memory://",
    topic_partitions=4,
    value_serializer="raw",
    key_serializer="raw",
    web_enabled=False,
    broker_session_timeout=10,
    consumer_auto_offset_reset="earliest",
)
source = app.topic(*TOPICS, value_type=bytes, key_type=bytes)
sums = app.Table("naive-sums", default=float, partitions=4).tumbling(60, expires=3600)
counts = app.Table("naive-counts", default=int, partitions=4).tumbling(60, expires=3600)
seen = {"n": 0, "start": 0.0}


@app.agent(source)
async def aggregate(stream: Any) -> None:
    async for event in stream.events():
        if seen["n"] == 0:
            seen["start"] = time.monotonic()
        seen["n"] += 1
        try:
            value = orjson.loads(event.value)
            key = value["district"]
            counts[key] += 1
            sums[key] += float(value.get("value") or value.get("latency_ms") or 0.0)
        except Exception:  # malformed events are skipped by the baseline
            pass
        if seen["n"] == TARGET:
            Path(DONE_FILE).write_text(str(time.monotonic() - seen["start"]))  # noqa: ASYNC240
