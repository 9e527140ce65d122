"""``ioc simulate`` against the real local broker: what it produced can be read back."""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from ioc.cli import main
from schemas.decode import Rejection, decode, topic_models

pytestmark = pytest.mark.integration


async def _consume(bootstrap: str, topics: list[str], expected: int) -> list[object]:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=100,
    )
    await consumer.start()
    records: list[object] = []
    try:
        deadline = time.monotonic() + 60
        while len(records) < expected and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500, max_records=10_000)
            for batch in batches.values():
                records.extend(batch)
    finally:
        await consumer.stop()
    return records


def test_produced_messages_read_back_and_validate(
    kafka_bootstrap: str, new_topic: Callable[..., str], tmp_path: Path
) -> None:
    portal, network, farm = (new_topic(f"sim.{name}") for name in ("portal", "network", "farm"))
    summary_path = tmp_path / "summary.json"
    before_ms = int(time.time() * 1000)
    code = main(
        [
            "simulate",
            "--bootstrap",
            kafka_bootstrap,
            "--topics",
            f"portal={portal},network={network},farm={farm}",
            "--start=-20m",
            "--sim-duration",
            "3m",
            "--seed",
            "3",
            "--malformed",
            "0.02",
            "--invalid",
            "0.02",
            "--future",
            "0.02",
            "--duplicates",
            "0.02",
            "--out-of-order",
            "0.02",
            "--summary-json",
            str(summary_path),
        ]
    )
    assert code == 0
    summary = orjson.loads(summary_path.read_bytes())
    totals = summary["totals"]
    assert totals["messages"] > 2000

    records = asyncio.run(_consume(kafka_bootstrap, [portal, network, farm], totals["messages"]))
    assert len(records) == totals["messages"]
    models = topic_models(portal=portal, network=network, farm=farm)
    partitions_of_key: dict[tuple[str, bytes], set[int]] = defaultdict(set)
    rejected: Counter[str] = Counter()
    valid = 0
    for record in records:
        topic, key, value = record.topic, record.key, record.value  # type: ignore[attr-defined]
        partitions_of_key[(topic, key)].add(record.partition)  # type: ignore[attr-defined]
        assert before_ms - 1000 <= record.timestamp <= int(time.time() * 1000)  # type: ignore[attr-defined]
        stamp = record.timestamp  # type: ignore[attr-defined]
        result = decode(topic, value, produced_at_ms=stamp, models=models)
        if isinstance(result, Rejection):
            rejected[result.reason_kind] += 1
        else:
            valid += 1
            assert result.district.value == key.decode()
    assert valid == totals["valid"]
    assert dict(rejected) == totals["rejected"]
    assert all(len(parts) == 1 for parts in partitions_of_key.values())
    by_topic = Counter(record.topic for record in records)  # type: ignore[attr-defined]
    assert {t: by_topic[t] for t in summary["topics"]} == {
        t: entry["messages"] for t, entry in summary["topics"].items()
    }
