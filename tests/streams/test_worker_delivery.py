"""Records the worker must not lose: retried when refused, and a loud stop when the broker
keeps refusing (pure logic over a stand-in for the Faust host)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from common import metrics
from streams.pipeline import Reroute
from streams.worker.delivery import PRODUCE_ATTEMPTS, Delivery, ProduceFailed


class FlakyHost:
    """Refuses the first ``refusals`` sends of every record (one at once, one later)."""

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.sent: list[tuple[str, bytes | None, dict[str, Any]]] = []
        self.tries: dict[bytes | None, int] = {}

    async def send(
        self, topic: str, key: bytes | None, value: bytes | None, **options: Any
    ) -> asyncio.Future[None]:
        tries = self.tries[value] = self.tries.get(value, 0) + 1
        if tries <= self.refusals and tries % 2:
            raise ValueError("refused at once")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if tries <= self.refusals:
            future.set_exception(ValueError("refused by the broker"))
        else:
            self.sent.append((topic, value, options))
            future.set_result(None)
        return future


def test_refused_records_are_sent_again_until_the_broker_has_them() -> None:
    host = FlakyHost(refusals=2)
    copy = Reroute(3, b"long-my", b"c", 1234, [("ioc-rerouted-from", b"0:7")])
    delivery = Delivery(host, backoff_seconds=0.0)  # type: ignore[arg-type]
    asyncio.run(delivery.produce(("t", [(b"k", b"a"), copy]), ("t-other", [(None, b"b")])))
    assert sorted((topic, value) for topic, value, _ in host.sent) == [
        ("t", b"a"),
        ("t", b"c"),
        ("t-other", b"b"),
    ]
    (options,) = [o for _, value, o in host.sent if value == b"c"]
    assert options == {"partition": 3, "timestamp_ms": 1234, "headers": copy.headers}


def test_a_record_refused_every_time_stops_the_worker_loudly() -> None:
    host = FlakyHost(refusals=PRODUCE_ATTEMPTS)
    before = metrics.PRODUCE_FAILURES.labels(topic="t-stop")._value.get()
    delivery = Delivery(host, backoff_seconds=0.0)  # type: ignore[arg-type]
    with pytest.raises(ProduceFailed, match="1 records to t-stop refused"):
        asyncio.run(delivery.produce(("t-stop", [(b"k", b"a")]), ("t-none", [])))
    assert host.tries[b"a"] == PRODUCE_ATTEMPTS
    assert metrics.PRODUCE_FAILURES.labels(topic="t-stop")._value.get() == before + 1


def test_refused_copies_name_the_partition_setting() -> None:
    host = FlakyHost(refusals=PRODUCE_ATTEMPTS)
    copy = Reroute(6, b"long-my", b"c", None, [("ioc-rerouted-from", b"0:7")])
    delivery = Delivery(host, backoff_seconds=0.0)  # type: ignore[arg-type]
    with pytest.raises(ProduceFailed, match=r"partitions \[6\].*IOC_PARTITIONS"):
        asyncio.run(delivery.produce(("t-copies", [copy])))
