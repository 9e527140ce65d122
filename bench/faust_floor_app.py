"""The floor of bench/streams_bench.py: our worker's Faust setup with no work at all.

Same Faust options, patches and batch lanes as ``ioc worker`` (streams.worker.faust_options,
streams.worker.faust_patches), one agent per partition lane like the worker's, but each batch is
only counted: what Faust's path costs on this machine, the ceiling of any worker built on
it. Writes the seconds from its first completed rebalance (fetching may begin) to
BENCH_DONE_FILE once it has seen BENCH_EVENTS events.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import faust

from common.config import load
from schemas.topics import RAW_TOPICS
from streams.worker import faust_patches
from streams.worker.faust_options import app_options

TARGET = int(os.environ["BENCH_EVENTS"])
DONE_FILE = os.environ["BENCH_DONE_FILE"]

settings = load()
faust_patches.apply()
app = faust.App(os.environ.get("BENCH_APP_ID", "bench-floor"), **app_options(settings))
seen = {"n": 0, "start": 0.0}


def _agents_for(topic_name: str) -> None:
    topic = app.topic(topic_name, key_type=bytes, value_type=bytes)
    for index, lane in enumerate(faust_patches.batch_lanes(app, topic, settings.partitions)):
        _agent(f"floor_{topic_name.split('.')[1]}_{index}", lane)


def _agent(name: str, lane: Any) -> None:
    async def count(stream: Any) -> None:
        async for batch in stream:
            before = seen["n"]
            seen["n"] += len(batch.records)
            if before < TARGET <= seen["n"]:
                Path(DONE_FILE).write_text(str(time.monotonic() - seen["start"]))  # noqa: ASYNC240

    count.__name__ = count.__qualname__ = name
    app.agent(lane, name=name)(count)


async def _start_clock(_: Any, **__: Any) -> None:
    """The clock starts when the consumer may fetch (its first rebalance is complete), so
    the first fetches count: they bring a dozen batches at once."""
    if not seen["start"]:
        seen["start"] = time.monotonic()


app.on_rebalance_complete.connect(_start_clock)  # type: ignore[arg-type]
for raw_topic in RAW_TOPICS:
    _agents_for(raw_topic)
