"""The broker helpers give Apache Kafka's answers on the dev broker, and the Faust patches
behave on Faust's own objects (the worker tests run them on a real broker)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from streams.replay.broker_quirks import offset_for_time, true_end_offsets
from streams.worker import faust_patches

TOPIC = "city.farm.sensor.v1"


async def _produce_one_batch(bootstrap: str, topic: str, n: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=200)
    await producer.start()
    try:
        futures = [await producer.send(topic, b"x", partition=0) for _ in range(n)]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _end_offsets(bootstrap: str, topic: str) -> tuple[int, int, int | None, int | None]:
    tp = TopicPartition(topic, 0)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, fetch_max_wait_ms=100)
    await consumer.start()
    try:
        listed = (await consumer.end_offsets([tp]))[tp]
        true = (await true_end_offsets(bootstrap, [tp]))[tp]
        future = await offset_for_time(consumer, tp, int(time.time() * 1000) + 3_600_000)
        past = await offset_for_time(consumer, tp, 0)
        return listed, true, future, past
    finally:
        await consumer.stop()


@pytest.mark.integration
def test_end_offsets_and_offsets_for_times_on_apache_kafka(
    kafka_bootstrap: str, new_topic: Callable[..., str]
) -> None:
    topic = new_topic("quirks.ends", 1)
    asyncio.run(_produce_one_batch(kafka_bootstrap, topic, 10))
    listed, true, future, past = asyncio.run(_end_offsets(kafka_bootstrap, topic))
    assert true == 10, "the high watermark after 10 records in one batch"
    assert listed == 10, "ListOffsets LATEST is the high watermark on Apache Kafka"
    assert future is None, "a time past the end has no offset"
    assert past == 0


def test_faust_internals_we_patch_are_still_there() -> None:
    from faust.sensors.base import SensorDelegate

    for hook in faust_patches.PER_EVENT_SENSOR_HOOKS:
        assert callable(getattr(SensorDelegate, hook))
    faust_patches.apply()
    assert SensorDelegate.on_stream_event_in is faust_patches._no_sensor


def test_the_drain_loop_and_wait_first_are_ours_once_applied() -> None:
    faust_patches.apply()
    assert faust_patches.DRAIN_CLASS.wait_first is faust_patches._wait_first
    assert faust_patches.DRAIN_CLASS._drain_messages is faust_patches._drain_messages


class _Queue:
    def __init__(self, full: bool) -> None:
        self._full = full

    def full(self) -> bool:
        return self._full


class _Flow:
    def __init__(self, active: bool, queues: list[_Queue]) -> None:
        self._active = active
        self._queues = queues

    def is_active(self) -> bool:
        return self._active


class _FakeConsumer:
    """Just what the fast path reads: flow state, stream buffers, producer buffer."""

    def __init__(self, *, suspended: bool, active: bool, full: bool, buffered: int) -> None:
        self.suspend_flow = asyncio.Event()
        if suspended:
            self.suspend_flow.set()
        buffer = type("Buffer", (), {"size": buffered, "max_messages": 100})()
        producer = type("Producer", (), {"buffer": buffer})()
        flow = _Flow(active, [_Queue(False), _Queue(full)])
        self.app = type("App", (), {"flow_control": flow, "producer": producer})()
        self.fallbacks = 0

    async def fallback(self, *coros: object, timeout: object = None) -> None:
        self.fallbacks += 1
        for coro in coros:
            coro.close()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("suspended", "active", "full", "buffered", "direct"),
    [
        (False, True, False, 0, True),
        (True, True, False, 0, False),
        (False, False, False, 0, False),
        (False, True, True, 0, False),
        (False, True, False, 101, False),
    ],
)
def test_records_go_straight_to_the_streams_only_when_nothing_can_block(
    monkeypatch: pytest.MonkeyPatch,
    suspended: bool,
    active: bool,
    full: bool,
    buffered: int,
    direct: bool,
) -> None:
    consumer = _FakeConsumer(suspended=suspended, active=active, full=full, buffered=buffered)
    monkeypatch.setattr(faust_patches, "_ORIGINAL_WAIT_FIRST", type(consumer).fallback)
    delivered: list[int] = []

    async def callback(n: int) -> None:
        delivered.append(n)

    async def scenario() -> None:
        await faust_patches._wait_first(consumer, callback(1), consumer.suspend_flow.wait())

    asyncio.run(scenario())
    assert (delivered == [1]) is direct
    assert consumer.fallbacks == (0 if direct else 1)


class _AckingConsumer:
    """What a batch is tracked, acked and committed with: Faust's own ``ack``, ``_add_gap``
    and ``_new_offset`` on the consumer's bookkeeping."""

    from faust.transport.consumer import Consumer as _Faust

    ack = _Faust.ack
    _add_gap = _Faust._add_gap

    def __init__(self, committed: int | None) -> None:
        from collections import defaultdict
        from weakref import WeakSet

        from intervaltree import IntervalTree

        topics = type("Topics", (), {"acks_enabled_for": staticmethod(lambda _: True)})()
        self.app = type("App", (), {"topics": topics})()
        self._committed_offset: dict[object, int | None] = defaultdict(lambda: committed)
        self._acked: dict[object, list[int]] = defaultdict(list)
        self._acked_index: dict[object, set[int]] = defaultdict(set)
        self._gap: dict[object, IntervalTree] = defaultdict(IntervalTree)
        self._n_acked = 0
        self._unacked_messages: WeakSet[object] = WeakSet()
        self._waiting_for_ack = None
        self.loop = None


def _batch(consumer: _AckingConsumer, first: int, offsets: range) -> faust_patches.BatchMessage:
    from faust.types import TP

    record = type("Record", (), {"offset": offsets[-1], "timestamp": 0, "timestamp_type": 0})
    tp = TP(TOPIC, 0)
    message = faust_patches.BatchMessage(
        faust_patches.RecordBatch(tp, [record] * len(offsets)), first, 1
    )
    asyncio.run(faust_patches.track_batch(consumer, message))
    return message


def _ack_inlined(consumer: _AckingConsumer, message: faust_patches.BatchMessage) -> bool:
    """What Faust's compiled stream iterator does (faust/_cython/streams.pyx, ``after``):
    the message's own ``ack`` is never called; its offset alone is acked."""
    message.refcount -= 1
    return not message.refcount and consumer.ack(message)  # type: ignore[arg-type]


@pytest.mark.parametrize("route", ["compiled", "python"])
@pytest.mark.parametrize(
    ("committed", "batches", "next_commit"),
    [
        (None, [(0, range(0, 100)), (100, range(100, 250))], 250),
        (None, [(0, range(0, 100)), (0, range(0, 100))], 100),  # redelivered batch
        (40, [(0, range(0, 100))], 100),  # offsets below the commit are not acked again
        (None, [(0, range(0, 10)), (10, range(15, 20))], 20),  # gap acked with the batch
        (2, [(3, range(3, 6)), (6, range(6, 9))], 9),  # batches after a commit
    ],
)
def test_a_batch_ack_makes_all_its_offsets_committable(
    route: str,
    committed: int | None,
    batches: list[tuple[int, range]],
    next_commit: int,
) -> None:
    from faust.transport.consumer import Consumer
    from faust.types import TP

    consumer = _AckingConsumer(committed)
    for first, offsets in batches:
        message = _batch(consumer, first, offsets)
        assert message in consumer._unacked_messages
        if route == "python":
            message.ack(consumer)  # type: ignore[arg-type]
        else:
            _ack_inlined(consumer, message)
        assert message.acked
    assert Consumer._new_offset(consumer, TP(TOPIC, 0)) == next_commit  # type: ignore[arg-type]
