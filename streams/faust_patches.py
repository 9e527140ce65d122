"""Every reach into faust-streaming internals, in one place (tests/streams/test_faust_patches.py
fails when Faust changes under them).

* Recovery of changelog-backed tables asks the consumer for ``highwaters``; with a broker
  whose ListOffsets answer is off (tansu) Faust would stop replaying early and lose state.
  The patched ``_highwaters`` reads the true high watermark from a Fetch.
* Faust calls every sensor (its Monitor) several times per event; the product keeps its own
  Prometheus metrics per batch, so the per-event sensor hooks are made no-ops (NOTES.md:
  about 3x less Faust overhead per event).
* The consumer hands every fetched record to the streams through
  ``wait_first(callback(message), suspend_flow.wait())``: two tasks and a wait per record,
  there only so that a callback blocked by a rebalance is abandoned. When nothing can
  block it (flow active, no stream buffer full, producer buffer not full) the patched
  ``wait_first`` awaits the callback directly; otherwise it falls back to Faust's own.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

from aiokafka import TopicPartition
from faust.sensors.base import SensorDelegate
from faust.transport import consumer as faust_consumer
from faust.transport.drivers import aiokafka as faust_aiokafka

from streams.broker_quirks import true_end_offsets

PATCHED_CLASS: Final = faust_aiokafka.AIOKafkaConsumerThread
_ORIGINAL_HIGHWATERS: Final = PATCHED_CLASS._highwaters
_state: dict[str, str] = {}
PER_EVENT_SENSOR_HOOKS: Final = (
    "on_message_in",
    "on_stream_event_in",
    "on_stream_event_out",
    "on_message_out",
    "on_table_get",
    "on_table_set",
    "on_table_del",
)


DRAIN_CLASS: Final = faust_consumer.Consumer
_ORIGINAL_WAIT_FIRST: Final = DRAIN_CLASS.wait_first
_SUSPEND_WAIT_CODE: Final = asyncio.Event.wait.__code__
"""The code of ``Consumer.suspend_flow.wait`` (an asyncio.Event)."""


def callback_cannot_block(consumer: Any) -> bool:
    """True when a fetched record can be handed to the streams without waiting: the flow
    is not suspended, no stream buffer is full and the producer buffer has room."""
    app = consumer.app
    flow = app.flow_control
    if consumer.suspend_flow.is_set() or not flow.is_active():
        return False
    queues = _queues_of(flow)
    for queue in queues:
        if queue.full():
            return False
    buffer = app.producer.buffer
    return bool(buffer.size <= buffer.max_messages)


def _queues_of(flow: Any) -> tuple[Any, ...]:
    """The stream buffers under ``flow`` (a WeakSet, slow to walk: cached on ``flow`` by
    its size)."""
    size = len(flow._queues)
    cached = getattr(flow, "_ioc_queues", None)
    if cached is None or cached[0] != size:
        cached = (size, tuple(flow._queues))
        flow._ioc_queues = cached
    queues: tuple[Any, ...] = cached[1]
    return queues


async def _wait_first(self: Any, *coros: Any, timeout: Any = None) -> Any:
    if (
        len(coros) == 2
        and getattr(coros[1], "cr_code", None) is _SUSPEND_WAIT_CODE
        and callback_cannot_block(self)
    ):
        coros[1].close()
        await coros[0]
        return None
    return await _ORIGINAL_WAIT_FIRST(self, *coros, timeout=timeout)


def _no_sensor(*_: Any, **__: Any) -> None:
    return None


async def _highwaters(self: Any, partitions: list[Any]) -> Any:
    if self.consumer.in_transaction:
        return await _ORIGINAL_HIGHWATERS(self, partitions)
    tps = [TopicPartition(tp.topic, tp.partition) for tp in partitions]
    found = await true_end_offsets(_state["bootstrap"], tps)
    return {tp: found[TopicPartition(tp.topic, tp.partition)] for tp in partitions}


def apply(bootstrap: str) -> None:
    """Install the patches (idempotent); ``bootstrap`` is the broker to read watermarks from."""
    _state["bootstrap"] = bootstrap
    PATCHED_CLASS._highwaters = _highwaters  # type: ignore[method-assign]
    DRAIN_CLASS.wait_first = _wait_first  # type: ignore[method-assign]
    for hook in PER_EVENT_SENSOR_HOOKS:
        setattr(SensorDelegate, hook, _no_sensor)
